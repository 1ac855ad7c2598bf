"""``datoferum certificate`` and ``datoferum key``: fetch deletion certificates and the server's
public key, and verify a certificate offline.

``certificate verify`` never contacts a server: a certificate is meant to be checked by someone
who does not have to trust the server (or who checks it after the server is gone). The crypto
and format modules are imported inside the commands, so other commands do not pay for loading
them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields

#: Exit status of ``certificate verify`` for a certificate that is not intact (1 stays for
#: failures to check at all: unreadable file, no key), so scripts can tell them apart.
INVALID_EXIT = 2

_OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: stdout).",
)


def _save(output: Path, content: bytes) -> None:
    """Write ``output`` whole or not at all (through a temporary name beside it)."""
    partial = output.with_name(output.name + ".part")
    try:
        partial.write_bytes(content)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CliError(f"cannot write {output}: {error.strerror or error}") from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {what} {path}: {error.strerror or error}") from None


@click.group()
def certificate() -> None:
    """Fetch signed deletion certificates and verify them offline."""


@certificate.command(name="get")
@click.argument("certificate_id")
@_OUTPUT
@json_option
@pass_context
def certificate_get(ctx: CliContext, certificate_id: str, output: Path | None) -> None:
    """Save the certificate CERTIFICATE_ID as JSON (admins and auditors)."""
    exported = ctx.call("GET", f"/api/v1/certificates/{certificate_id}")
    text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    _save(output, text.encode("utf-8"))
    if ctx.json:
        emit_json(exported)
        return
    document, file = exported["certificate"], exported["certificate"]["file"]
    fields(
        [
            ("saved", str(output)),
            ("certificate", document["id"]),
            ("certifies", f"version {document['version']} of {file['collection']}/{file['path']}"),
        ]
    )


def _default_key() -> Path:
    home = Path(os.environ.get("DATOFERUM_HOME", "data"))
    return home / "keys" / "signing.pub.pem"


@certificate.command(name="verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The server's public key, PEM (default: $DATOFERUM_HOME/keys/signing.pub.pem).",
)
@json_option
@pass_context
def certificate_verify(ctx: CliContext, file: Path, key: Path | None) -> None:
    """Check FILE offline: exit 0 if intact and signed by the key, 2 if not."""
    from datoferum.domain import certificates  # cryptography loads only here
    from datoferum.errors import CertificateInvalid, InvalidInput

    if key is None:
        key = _default_key()
        if not key.is_file():
            raise CliError(
                f"no public key at {key}: pass --key KEY.pem (saved with 'datoferum key get -o "
                "KEY.pem', or the server's <home>/keys/signing.pub.pem)"
            )
    public_pem = _read(key, "the key")
    text = _read(file, "the certificate")
    try:
        document = certificates.verify(certificates.parse(text), public_pem)
    except CertificateInvalid as error:
        raise CliError(f"invalid certificate {file}: {error.detail}", INVALID_EXIT) from None
    except InvalidInput as error:  # the key, not the certificate
        raise CliError(f"cannot use {key}: {error.detail}") from None
    if ctx.json:
        emit_json({"valid": True, "certificate": document})
        return
    click.echo(f"valid: {certificates.summary(document)} (certificate {document['id']})")


@click.group()
def key() -> None:
    """The server's public signing key."""


@key.command(name="get")
@_OUTPUT
@json_option
@pass_context
def key_get(ctx: CliContext, output: Path | None) -> None:
    """Save the public key that verifies the server's certificates (PEM)."""
    found = ctx.call("GET", "/api/v1/keys")
    if ctx.json:
        if output is not None:
            _save(output, found["public_key_pem"].encode("ascii"))
        emit_json(found)
        return
    if output is None:
        click.echo(found["public_key_pem"], nl=False)
        return
    _save(output, found["public_key_pem"].encode("ascii"))
    fields([("saved", str(output)), ("key id", found["key_id"])])
