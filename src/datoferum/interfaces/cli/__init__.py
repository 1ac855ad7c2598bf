"""The ``datoferum`` command line."""
