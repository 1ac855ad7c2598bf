"""Adapters: the outside systems Datoferum talks to, each behind a small protocol."""
