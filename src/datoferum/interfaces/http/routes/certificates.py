"""``/api/v1/keys`` and the deletion certificates: what a verifier needs, over HTTP.

Verification itself needs no endpoint: it is done offline with the public key
(``datoferum certificate verify``), so the server is never asked to vouch for its own work.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.certificates import ALGORITHM
from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.security import authorize


async def public_key(request: Request) -> Response:
    # Every role may fetch the key (catalog:read is granted to all): it is public by nature,
    # but like every endpoint except health it needs a token.
    await authorize(request, Permission.READ_CATALOG)
    signer = services_of(request).signer
    return JSONResponse(
        {
            "key_id": signer.key_id,
            "algorithm": ALGORITHM,
            "public_key_pem": signer.public_key_pem().decode("ascii"),
        }
    )


async def get_certificate(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    found = await run_in_threadpool(
        services_of(request).certificates.get, request.path_params["certificate_id"]
    )
    return JSONResponse(found.as_dict())


async def file_certificates(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    found = await run_in_threadpool(
        services_of(request).certificates.for_file, request.path_params["file_id"]
    )
    return JSONResponse({"items": [record.as_dict() for record in found]})


ROUTES = [
    Route("/api/v1/keys", public_key, methods=["GET"]),
    Route("/api/v1/certificates/{certificate_id}", get_certificate, methods=["GET"]),
    Route("/api/v1/files/{file_id}/certificates", file_certificates, methods=["GET"]),
]

_STRING = {"type": "string"}
_CERTIFICATE: dict[str, Any] = {
    "type": "object",
    "required": ["certificate", "signature", "key_id", "algorithm"],
    "properties": {
        "certificate": {
            "type": "object",
            "description": "The signed document (format datoferum.deletion-certificate/1): id, "
            "issued_at, issuer, file {id, collection, path}, version, sha256, size, replicas, "
            "cause, actor, purged_at, chain {seq, hash}.",
        },
        "signature": {
            "type": "string",
            "description": "Base64 Ed25519 signature of the batch (its size and Merkle root); "
            "without batch, of the document's canonical JSON (UTF-8).",
        },
        "key_id": _STRING,
        "algorithm": {"const": ALGORITHM},
        "batch": {
            "type": "object",
            "description": "The document's place in the batch signed together: index, size, and "
            "the audit path (hex SHA-256 hashes, leaf end first) to the signed root.",
            "required": ["index", "size", "path"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "size": {"type": "integer", "minimum": 1},
                "path": {"type": "array", "items": _STRING},
            },
        },
    },
}
PATHS = {
    "/api/v1/keys": {
        "get": apidoc.operation(
            "The server's public signing key, to verify deletion certificates offline",
            {
                "200": apidoc.json_body(
                    {
                        "type": "object",
                        "required": ["key_id", "algorithm", "public_key_pem"],
                        "properties": {
                            "key_id": _STRING,
                            "algorithm": {"const": ALGORITHM},
                            "public_key_pem": _STRING,
                        },
                    },
                    "Public key",
                )
            },
        )
    },
    "/api/v1/certificates/{certificate_id}": {
        "get": apidoc.operation(
            "A signed deletion certificate, as exported",
            {"200": apidoc.json_body(_CERTIFICATE, "Certificate")},
            parameters=[apidoc.path("certificate_id", "Certificate id.")],
        )
    },
    "/api/v1/files/{file_id}/certificates": {
        "get": apidoc.operation(
            "A file's deletion certificates (kept after the file's record is gone)",
            {
                "200": apidoc.json_body(
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": _CERTIFICATE}},
                    },
                    "Certificates",
                )
            },
            parameters=[apidoc.path("file_id", "File id.")],
        )
    },
}
