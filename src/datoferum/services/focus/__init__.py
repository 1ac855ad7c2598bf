"""ThriftData's cost connectors: recognise billing exports and convert them to FOCUS 1.2.

``convert`` is the entry point; ``detect`` picks a connector per file (``aws``, ``azure``,
``gcp``, ``focus``); ``rules`` holds every converted row to FOCUS 1.2.
"""

from datoferum.services.focus.converter import ConversionReport, InputReport, convert

__all__ = ["ConversionReport", "InputReport", "convert"]
