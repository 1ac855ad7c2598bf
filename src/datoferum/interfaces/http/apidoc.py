"""Small builders for OpenAPI fragments, shared by the document and the route modules.

Each route module that owns a resource exports ``ROUTES`` (Starlette routes) and ``PATHS`` (its
OpenAPI path items); ``app.py`` and ``openapi.py`` gather them, and a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/responses/Problem"}
ERRORS = {"400": PROBLEM, "401": PROBLEM, "403": PROBLEM, "404": PROBLEM}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_request(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def operation(
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """An operation; errors 400/401/403/404 are added unless the operation is public."""
    item: dict[str, Any] = {
        "summary": summary,
        "responses": responses if public else {**responses, **ERRORS},
    }
    if parameters:
        item["parameters"] = parameters
    if body is not None:
        item["requestBody"] = body
    if public:
        item["security"] = []
    return item


OBJECT = {"type": "object"}


def window(sorts: str, filters: str) -> list[dict[str, Any]]:
    """The positional window parameters a listing accepts besides its own pagination; any of
    them makes the answer a window with a ``Content-Range`` header."""
    return [
        query("sort", f'JSON pair, e.g. ["created_at","DESC"]; fields: {sorts}.'),
        query("range", "JSON pair of item positions, e.g. [0,24] (at most 1000 items)."),
        query("filter", f"JSON object; fields: {filters}."),
    ]
