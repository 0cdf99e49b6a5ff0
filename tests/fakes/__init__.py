"""Stand-ins for the services g21bot talks to, for offline tests and the benchmark:
``telegram`` (the Bot API, checked against the official spec) and ``openai`` (an
OpenAI-compatible Chat Completions server)."""
