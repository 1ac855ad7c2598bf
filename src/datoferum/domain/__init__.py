"""Pure domain rules and records: no I/O, no HTTP, no database."""
