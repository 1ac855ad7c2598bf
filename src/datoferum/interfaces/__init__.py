"""Interfaces: HTTP API, command line. Thin: they parse, call services, render."""
