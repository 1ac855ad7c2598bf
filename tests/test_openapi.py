"""The OpenAPI document and the application's routes describe the same API."""

from __future__ import annotations

import re

import httpx

from datoferum.interfaces.http.app import ROUTES
from datoferum.interfaces.http.openapi import document

from conftest import LiveServer


def _routes() -> set[tuple[str, str]]:
    found = set()
    for route in ROUTES:
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)
        if path == "/api/v1/data/{collection}":
            continue  # only answers with guidance: the path after the collection is missing
        for method in route.methods or ():
            # Starlette answers HEAD wherever GET exists; only downloads document it.
            if method != "HEAD" or path.startswith(("/api/v1/data/", "/l/")):
                found.add((path, method.lower()))
    return found


def test_every_route_is_documented_and_nothing_else() -> None:
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert _routes() == documented


def test_every_documented_operation_declares_errors_or_is_public() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue
            assert "401" in operation["responses"], (method, path)


def test_served_document_is_the_same(server: LiveServer) -> None:
    served = httpx.get(server.url + "/openapi.json").json()
    assert served["paths"].keys() == document()["paths"].keys()
