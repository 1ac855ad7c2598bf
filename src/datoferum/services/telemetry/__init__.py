"""ThriftData's telemetry: OTLP export requests received over HTTP and kept as files
(``receiver``), decoded (``payloads``) into flat rows (``rows``) that the lake reads through
its sources (``sources``)."""
