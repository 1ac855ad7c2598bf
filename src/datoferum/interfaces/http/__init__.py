"""The HTTP API (ASGI, served by granian)."""
