"""Answering: one engine from a question to a verified, cited answer."""
