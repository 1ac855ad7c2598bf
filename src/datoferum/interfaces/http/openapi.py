"""The OpenAPI 3.1 description of the HTTP API, served at ``/openapi.json``.

Written by hand because the upload is a raw streamed body that frameworks describe poorly; a test
checks that every route of the application appears here and nothing here lacks a route.
"""

from __future__ import annotations

from typing import Any

from datoferum import __version__
from datoferum.interfaces.http.apidoc import ERRORS, PROBLEM, json_body, path, query, ref, window
from datoferum.interfaces.http.routes import (
    certificates,
    erasure,
    holds,
    jobs,
    lake,
    links,
    otlp,
    policies,
    purge,
    retention,
    signals,
    stats,
    storage,
    stream,
    webhooks,
)

#: Route modules that own a resource: the app serves their ``ROUTES``; here go their ``PATHS``.
RESOURCE_MODULES = [
    jobs,
    certificates,
    webhooks,
    holds,
    signals,
    purge,
    retention,
    policies,
    erasure,
    links,
    storage,
    stats,
    stream,
    lake,
    otlp,
]

_DATA_PARAMS = [
    path("collection", "Collection name: lowercase letters, digits, '.', '_', '-'."),
    path("path", "File path inside the collection; '/' separates folders."),
]
_PAGING = [
    query("after", "Return events with a sequence number above this.", {"type": "integer"}),
    query("limit", "Page size (1-10000).", {"type": "integer"}),
]

_FILE_PROPS: dict[str, Any] = {
    "id": {"type": "string"},
    "collection": {"type": "string"},
    "path": {"type": "string"},
    "version": {"type": "integer"},
    "size": {"type": "integer"},
    "sha256": {"type": "string"},
    "state": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
}


def document() -> dict[str, Any]:
    download_headers = {
        name: {"schema": {"type": "string"}}
        for name in ("ETag", "Last-Modified", "Repr-Digest", "Content-Digest", "Accept-Ranges")
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Datoferum",
            "version": __version__,
            "description": "Carries data files from capture to purge, with proof of every step.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": json_body({"type": "object"}, "Alive")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: catalog and storage answer",
                    "security": [],
                    "responses": {
                        "200": json_body({"type": "object"}, "Ready"),
                        "503": json_body({"type": "object"}, "Not ready"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": json_body({"type": "object"}, "OpenAPI")},
                }
            },
            "/api/v1/data/{collection}/{path}": {
                "put": {
                    "summary": "Upload a file (a new version if the path exists)",
                    "description": "The raw body is the file (`curl -T FILE URL`). "
                    "`X-Meta-<key>` headers become metadata; `Content-Digest` (sha-256, sha-512) "
                    "and `Content-MD5` are verified.",
                    "parameters": [
                        *_DATA_PARAMS,
                        {
                            "name": "Content-Digest",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "Content-MD5",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "responses": {
                        "201": json_body(ref("File"), "Stored"),
                        **ERRORS,
                        "413": PROBLEM,
                        "503": PROBLEM,
                    },
                },
                "get": {
                    "summary": "Download a version (newest by default); supports Range",
                    "parameters": [
                        *_DATA_PARAMS,
                        query("version", "Version number.", {"type": "integer"}),
                    ],
                    "responses": {
                        "200": {
                            "description": "The whole file",
                            "headers": download_headers,
                            "content": {"*/*": {}},
                        },
                        "206": {"description": "The requested byte range", "content": {"*/*": {}}},
                        "304": {"description": "Not modified"},
                        **ERRORS,
                        "416": PROBLEM,
                    },
                },
                "head": {
                    "summary": "Headers of a download, without the body",
                    "parameters": [
                        *_DATA_PARAMS,
                        query("version", "Version number.", {"type": "integer"}),
                    ],
                    "responses": {
                        "200": {"description": "Headers", "headers": download_headers},
                        **ERRORS,
                    },
                },
            },
            "/api/v1/files": {
                "get": {
                    "summary": "List files (newest version of each), oldest capture first",
                    "parameters": [
                        query("collection", "Only this collection."),
                        query("prefix", "Only paths starting with this."),
                        query("state", "Only files whose newest version is in this state."),
                        query("created_after", "ISO 8601; first capture at or after."),
                        query("created_before", "ISO 8601; first capture before."),
                        query("updated_after", "ISO 8601; newest version at or after."),
                        query("updated_before", "ISO 8601; newest version before."),
                        query("limit", "Page size (1-1000, default 100).", {"type": "integer"}),
                        query("cursor", "The next_cursor of the previous page."),
                        *window(
                            "id, collection, path, version, state, size, created_at, updated_at",
                            "collection, prefix, state, q (part of the path)",
                        ),
                    ],
                    "responses": {"200": json_body(ref("FilePage"), "A page of files"), **ERRORS},
                }
            },
            "/api/v1/files/{file_id}": {
                "get": {
                    "summary": "A file's record with all its versions",
                    "parameters": [path("file_id", "File id.")],
                    "responses": {"200": json_body(ref("File"), "The file"), **ERRORS},
                }
            },
            "/api/v1/files/{file_id}/events": {
                "get": {
                    "summary": "A file's lifecycle timeline, oldest first",
                    "parameters": [path("file_id", "File id."), *_PAGING],
                    "responses": {"200": json_body(ref("EventPage"), "Events"), **ERRORS},
                }
            },
            "/api/v1/events": {
                "get": {
                    "summary": "Every event, oldest first (auditors)",
                    "parameters": [
                        *_PAGING,
                        query("type", "Only types starting with this, e.g. 'file.'."),
                        *window("seq (id is an alias)", "type (prefix), file_id, actor"),
                    ],
                    "responses": {"200": json_body(ref("EventPage"), "Events"), **ERRORS},
                }
            },
            "/api/v1/audit/verify": {
                "get": {
                    "summary": "Verify the hash chain of the whole event log",
                    "responses": {
                        "200": json_body(ref("Verification"), "Result (ok may be false)"),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/tokens": {
                "get": {
                    "summary": "List tokens (admins)",
                    "responses": {"200": json_body({"type": "object"}, "Tokens"), **ERRORS},
                },
                "post": {
                    "summary": "Create a token (admins); the secret is shown once",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name", "role"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "role": {
                                            "enum": ["admin", "producer", "consumer", "auditor"]
                                        },
                                        "expires_in_days": {"type": "number"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": json_body({"type": "object"}, "Created"), **ERRORS},
                },
            },
            "/api/v1/tokens/{token_id}": {
                "delete": {
                    "summary": "Revoke a token (admins)",
                    "parameters": [path("token_id", "Token id.")],
                    "responses": {"200": json_body({"type": "object"}, "Revoked"), **ERRORS},
                }
            },
            "/api/v1/whoami": {
                "get": {
                    "summary": "The caller's identity and role",
                    "responses": {"200": json_body({"type": "object"}, "Identity"), **ERRORS},
                }
            },
            **{path_: item for module in RESOURCE_MODULES for path_, item in module.PATHS.items()},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": ref("Problem")}},
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                },
                "File": {
                    "type": "object",
                    "required": list(_FILE_PROPS),
                    "properties": _FILE_PROPS,
                },
                "FilePage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": ref("File")},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "Event": {
                    "type": "object",
                    "properties": {
                        name: {"type": kind}
                        for name, kind in (
                            ("seq", "integer"),
                            ("id", "string"),
                            ("time", "string"),
                            ("file_id", ["string", "null"]),
                            ("version", ["integer", "null"]),
                            ("type", "string"),
                            ("actor", "string"),
                            ("details", "object"),
                            ("correlation_id", "string"),
                            ("prev_hash", "string"),
                            ("hash", "string"),
                        )
                    },
                },
                "EventPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": ref("Event")},
                        "next_after": {"type": ["integer", "null"]},
                    },
                },
                "Verification": {
                    "type": "object",
                    "required": ["ok", "events"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "events": {"type": "integer"},
                        "head": {"type": "object"},
                        "first_break": {"type": ["object", "null"]},
                    },
                },
            },
        },
    }
