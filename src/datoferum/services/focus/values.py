"""Reading single values the way billing exports write them.

Exports disagree on almost every spelling: timestamps with or without ``T``, ``Z``, ``+00:00``,
`` UTC`` or fractions; days alone; ``MM/DD/YYYY`` in older Azure files; numbers in scientific
notation. Each helper accepts the spellings seen in real exports and raises ``ValueError`` with a
short reason for anything else, so the caller can name the file, row and column.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONTH = re.compile(r"^(\d{4})(\d{2})$")


def blank(value: object) -> bool:
    """Whether a source value means "nothing here" (empty, or the literal ``NULL`` some FOCUS
    producers write)."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "NULL"))


def text(value: object) -> str | None:
    """A string value, or ``None`` when blank."""
    if blank(value):
        return None
    return str(value).strip()


def number(value: object) -> float | None:
    """A finite number, or ``None`` when blank. NaN and infinities are refused: no cost engine
    can add them up, and they only ever come from a broken export."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        result = float(value)
    else:
        try:
            result = float(str(value).strip().replace(",", ""))
        except ValueError:
            raise ValueError(f"not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"not a finite number: {str(value)[:40]!r}")
    return result


def instant(value: object) -> datetime | None:
    """A timestamp in UTC, or ``None`` when blank. A value without a zone is taken as UTC (every
    provider documents its export timestamps in UTC)."""
    if blank(value):
        return None
    raw = str(value).strip()
    spelled = raw
    if spelled.endswith(" UTC"):
        spelled = spelled[:-4]
    if spelled.endswith(("Z", "z")):
        spelled = spelled[:-1] + "+00:00"
    us_date = _US_DATE.match(spelled)
    if us_date:
        month, day, year = (int(part) for part in us_date.groups())
        spelled = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        parsed = datetime.fromisoformat(spelled)
    except ValueError:
        raise ValueError(f"not a timestamp: {raw[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def month_start(value: object) -> datetime | None:
    """The first instant of a ``YYYYMM`` month (GCP ``invoice.month``), or ``None`` when blank."""
    if blank(value):
        return None
    match = _MONTH.match(str(value).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"not a YYYYMM month: {str(value)[:20]!r}")
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    """The first instant of the month after ``start``'s."""
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1, day=1)
    return start.replace(month=start.month + 1, day=1)


def next_day(start: datetime) -> datetime:
    """The instant one day after ``start``: FOCUS periods end exclusively, so a charge for a day
    runs from its midnight to the next one."""
    return start + timedelta(days=1)
