"""FOCUS unit format: how ``PricingUnit`` and ``ConsumedUnit`` values are spelled.

FOCUS 1.2 wants units such as ``GB``, ``Hours``, ``GB-Hours`` (a quantity over time),
``Requests/Second`` (a rate) or ``1000 Requests``. Providers write ``Hrs``, ``GB Hours``,
``GB-Month``, ``1 Hour`` or ``Lambda-GB-Seconds``. ``normalize_unit`` rewrites the spellings
whose meaning is unambiguous and leaves every other value as the source wrote it: a unit it
does not understand is kept rather than guessed.
"""

from __future__ import annotations

import re

_DATA = "b Kb Mb Gb Tb Pb Eb B KB MB GB TB PB EB Kib Mib Gib Tib Pib Eib KiB MiB GiB TiB PiB EiB"
_SINGULAR = ("Year", "Month", "Day", "Hour", "Minute", "Second")
_PLURAL = tuple(unit + "s" for unit in _SINGULAR)
_WORDS = r"[A-Za-z][A-Za-z0-9]*(?:\s+[A-Za-z][A-Za-z0-9]*)*"
_UNIT = f"(?:{'|'.join(_DATA.split())}|{_WORDS})"
_ONE = "|".join(_SINGULAR)
_MANY = "|".join(_PLURAL)

UNIT_FORMAT = re.compile(
    "|".join(
        f"(?:^{pattern}$)"
        for pattern in (
            _UNIT,
            f"{_UNIT}-(?:{_MANY})",
            f"(?:{_UNIT})/(?:{_ONE})",
            f"[0-9]+ {_UNIT}",
            f"(?:{_UNIT})/[0-9]+ (?:{_MANY})",
        )
    )
)

#: Time words as providers abbreviate or inflect them → the FOCUS plural.
_TIME_WORDS = {
    "hr": "Hours",
    "hrs": "Hours",
    "hour": "Hours",
    "hours": "Hours",
    "mo": "Months",
    "month": "Months",
    "months": "Months",
    "day": "Days",
    "days": "Days",
    "sec": "Seconds",
    "second": "Seconds",
    "seconds": "Seconds",
    "min": "Minutes",
    "minute": "Minutes",
    "minutes": "Minutes",
    "year": "Years",
    "years": "Years",
}


def is_unit_format(unit: str) -> bool:
    """Whether ``unit`` follows the FOCUS unit format."""
    return bool(UNIT_FORMAT.match(unit))


def normalize_unit(unit: str | None) -> str | None:
    """``unit`` in FOCUS unit format when its meaning is clear, else unchanged."""
    if unit is None:
        return None
    spelled = " ".join(unit.split())
    candidate = _rewrite(spelled)
    if candidate != spelled and is_unit_format(candidate):
        return candidate
    return spelled


def _rewrite(unit: str) -> str:
    # "1 Hour" → "Hours"; "1 /Month" or "1/Month" → "Units/Month" (a count per month).
    match = re.fullmatch(r"1\s*/\s*([A-Za-z]+)", unit)
    if match and match.group(1).lower() in _TIME_WORDS:
        return "Units/" + _TIME_WORDS[match.group(1).lower()][:-1]
    match = re.fullmatch(r"1 ([A-Za-z]+)", unit)
    if match and match.group(1).lower() in _TIME_WORDS:
        return _TIME_WORDS[match.group(1).lower()]
    if unit.lower() in _TIME_WORDS:
        return _TIME_WORDS[unit.lower()]
    # A bare count ("100000000" in Azure exports) → "100000000 Units".
    if unit.isdigit():
        return f"{unit} Units"
    # "1 GB/Month" → "GB/Month": a block of one is the unit itself.
    if unit.startswith("1 ") and is_unit_format(unit[2:]):
        return unit[2:]
    # "Gigabyte Per Hour" → "Gigabyte/Hour".
    match = re.fullmatch(r"(.+?) [Pp]er ([A-Za-z]+)", unit)
    if match and match.group(2).lower() in _TIME_WORDS:
        return f"{match.group(1)}/{_TIME_WORDS[match.group(2).lower()][:-1]}"
    # "GiB/Second-Months" (a rate held for months) → "GiB per Second-Months".
    match = re.fullmatch(r"([^/]+)/([A-Za-z]+)-([A-Za-z]+)", unit)
    if match and match.group(3).lower() in _TIME_WORDS:
        return f"{match.group(1)} per {match.group(2)}-{_TIME_WORDS[match.group(3).lower()]}"
    # "GB Hours", "GB-Month", "Lambda-GB-Seconds" → "GB-Hours", "GB-Months", "Lambda GB-Seconds".
    match = re.fullmatch(r"(.+?)[\s-]+([A-Za-z]+)", unit)
    if match and match.group(2).lower() in _TIME_WORDS:
        base = match.group(1).replace("-", " ")
        return f"{base}-{_TIME_WORDS[match.group(2).lower()]}"
    return unit
