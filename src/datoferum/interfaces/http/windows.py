"""Positional listing windows in the common REST convention of admin front ends.

A listing asked with any of ``sort=["field","ASC"]``, ``range=[0,24]`` or ``filter={...}`` (each a
JSON value in the query string) answers the items of that window and a ``Content-Range:
<resource> 0-24/319`` header. Without them the listing keeps its own cursor pagination, so
existing clients see no change. The header must stay parseable by those front ends, so a count
past ``COUNT_CAP`` is reported as the cap itself and the body's ``total_capped`` says the real
number is larger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.errors import InvalidInput
from datoferum.services.listing import (
    MAX_WINDOW,
    Slice,
    Window,
    check_filters,
    check_sort,
    memory_window,
    text_filter,
)

PARAMS = ("sort", "range", "filter")


def _json_param(request: Request, name: str, example: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be JSON such as {name}={example}, got {raw!r}") from None


def window_of(
    request: Request,
    *,
    sortable: Sequence[str],
    filterable: Sequence[str],
    default_sort: tuple[str, bool],
) -> Window | None:
    """The window a request asks for, or ``None`` when it uses the listing's own pagination.

    ``default_sort`` is (field, descending). Unknown fields and malformed values are refused
    with a 400 that names the allowed ones."""
    if not any(name in request.query_params for name in PARAMS):
        return None
    sort, descending = default_sort
    asked_sort = _json_param(request, "sort", '["id","ASC"]')
    if asked_sort is not None:
        if (
            not isinstance(asked_sort, list)
            or len(asked_sort) != 2
            or not isinstance(asked_sort[0], str)
            or not isinstance(asked_sort[1], str)
            or asked_sort[1].upper() not in ("ASC", "DESC")
        ):
            raise InvalidInput(
                f'sort must be a JSON pair such as ["id","ASC"] (ASC or DESC), got {asked_sort!r}'
            )
        sort, descending = asked_sort[0], asked_sort[1].upper() == "DESC"
    start, end = 0, 24
    asked_range = _json_param(request, "range", "[0,24]")
    if asked_range is not None:
        if (
            not isinstance(asked_range, list)
            or len(asked_range) != 2
            or not all(type(bound) is int for bound in asked_range)
            or not 0 <= asked_range[0] <= asked_range[1]
        ):
            raise InvalidInput(
                "range must be a JSON pair of whole numbers [first, last] with "
                f"0 <= first <= last, such as [0,24], got {asked_range!r}"
            )
        start, end = asked_range
        if end - start + 1 > MAX_WINDOW:
            raise InvalidInput(f"range may span at most {MAX_WINDOW} items, got {asked_range!r}")
    filters = _json_param(request, "filter", '{"state":"stored"}')
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise InvalidInput(
            f'filter must be a JSON object such as {{"state":"stored"}}, got {filters!r}'
        )
    window = Window(sort, descending, start, end, filters)
    check_sort(window, sortable)
    check_filters(window, filterable)
    return window


def content_range(resource: str, window: Window, found: Slice) -> str:
    """``<resource> first-last/total``; an empty window is written ``*/total`` as in RFC 9110."""
    if not found.items:
        return f"{resource} */{found.total}"
    return f"{resource} {window.start}-{window.start + len(found.items) - 1}/{found.total}"


def window_response(
    resource: str,
    window: Window,
    found: Slice,
    render: Callable[[Any], dict[str, Any]],
) -> Response:
    """The window's items in the listing's usual ``{"items": [...]}`` body, with the total."""
    body: dict[str, Any] = {"items": [render(item) for item in found.items], "total": found.total}
    if found.capped:
        body["total_capped"] = True
    return JSONResponse(body, headers={"Content-Range": content_range(resource, window, found)})


def records_response(resource: str, window: Window, records: Sequence[dict[str, Any]]) -> Response:
    """A window over records already in memory (lists small by nature: holds, webhooks,
    policies). Each filter keeps records whose field equals it; ``q`` keeps records with the
    text in any of their string fields."""
    fields = {name: _getter(name) for name in records[0]} if records else {}
    search = text_filter(window, "q")
    wanted = {name: value for name, value in window.filters.items() if name != "q"}

    def keep(record: dict[str, Any]) -> bool:
        if any(record.get(name) != value for name, value in wanted.items()):
            return False
        if search is None:
            return True
        needle = search.casefold()
        return any(isinstance(v, str) and needle in v.casefold() for v in record.values())

    found = memory_window(records, window, fields, keep) if records else Slice([], 0)
    return window_response(resource, window, found, lambda record: record)


def _getter(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record.get(name)
