"""Operations: settings, logs, metrics, limits."""
