"""``python -m datoferum`` is the same as the ``datoferum`` command."""

from datoferum.interfaces.cli.main import main

main()
