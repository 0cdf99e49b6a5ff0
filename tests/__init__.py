"""g21bot's tests (a package, so the benchmark can import ``tests.fakes`` from the root)."""
