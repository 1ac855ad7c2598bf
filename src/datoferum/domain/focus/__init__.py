"""FOCUS 1.2 (FinOps Open Cost and Usage Specification) as data: columns, types, allowed values.

Kept apart from the connectors so that the schema can be read, tested and compared with the
specification without any file parsing around it.
"""

from datoferum.domain.focus.schema import (
    ALLOWED_VALUES,
    COLUMNS,
    COLUMNS_BY_NAME,
    FOCUS_VERSION,
    SUBCATEGORIES,
    Column,
    Kind,
    custom_name,
)

__all__ = [
    "ALLOWED_VALUES",
    "COLUMNS",
    "COLUMNS_BY_NAME",
    "FOCUS_VERSION",
    "SUBCATEGORIES",
    "Column",
    "Kind",
    "custom_name",
]
