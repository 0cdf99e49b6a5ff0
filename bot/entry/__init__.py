"""Entry points: the CLI, the terminal chat, eval, the preflight."""
