"""Which connector reads a file, decided by its header (CSV) or its keys (JSON), never by its
name: exports are renamed, compressed and re-uploaded, their columns are what stays. An
OpenCost allocation response is recognised by its shape when the file is opened
(``reading.open_export``)."""

from __future__ import annotations

from datoferum.errors import BillingFileError
from datoferum.services.focus import azure, focus, gcp
from datoferum.services.focus.aws import CurConnector
from datoferum.services.focus.azure import AzureConnector
from datoferum.services.focus.common import Connector
from datoferum.services.focus.focus import FocusConnector
from datoferum.services.focus.gcp import GcpConnector
from datoferum.services.focus.opencost import OpenCostConnector
from datoferum.services.focus.reading import Export

#: What ``connector_for`` recognises, for the one-line error about anything else.
KNOWN = (
    "AWS CUR (legacy or 2.0), Azure cost export, GCP billing export (CSV or JSON), FOCUS 1.x, "
    "OpenCost/Kubecost allocations"
)


def _is_cur(header: list[str]) -> bool:
    names = set(header)
    legacy = any(name.startswith("lineItem/") for name in names)
    cur2 = {"line_item_usage_start_date", "line_item_unblended_cost"} <= names
    return legacy or cur2


def family(header: list[str]) -> str | None:
    """Which kind of export ``header`` (column names) belongs to: ``focus``, ``aws-cur``,
    ``gcp`` or ``azure``, else None. FOCUS is tried first because a FOCUS file written by a
    provider may also carry that provider's columns (as ``x_`` columns)."""
    if focus.recognises(header):
        return "focus"
    if _is_cur(header):
        return "aws-cur"
    if gcp.recognises(header):
        return "gcp"
    if azure.recognises(header):
        return "azure"
    return None


def connector_for(export: Export) -> Connector:
    """The connector for ``export``: an OpenCost response by its shape, else by :func:`family`."""
    if export.shape == "opencost":
        return OpenCostConnector()
    header = export.header
    found = family(header)
    if found == "focus":
        export.null_values = ["NULL"]
        return FocusConnector(header)
    if found == "aws-cur":
        return CurConnector(header)
    if found == "gcp":
        return GcpConnector(header, export.shape)
    if found == "azure":
        return AzureConnector(header)
    shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
    raise BillingFileError(
        f"{export.path}: unknown format: the columns ({shown}) match none of {KNOWN}"
    )
