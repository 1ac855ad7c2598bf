"""The catalog: SQL schema, engine set-up and migrations."""
