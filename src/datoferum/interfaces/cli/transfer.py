"""``datoferum put`` and ``datoferum get``: move bytes, verified end to end."""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import click

from datoferum.domain.metadata import check_metadata
from datoferum.domain.names import split_location
from datoferum.errors import InvalidMetadata, InvalidName
from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields, human_size

CHUNK = 1024 * 1024


def _location(location: str) -> tuple[str, str]:
    try:
        return split_location(location)
    except InvalidName as error:
        raise CliError(error.detail) from None


def data_url(collection: str, path: str) -> str:
    return f"/api/v1/data/{quote(collection)}/{quote(path)}"


def _sha256_of(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


def _chunks(handle: BinaryIO, digest: hashlib._Hash) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        yield chunk


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("location")
@click.option("--meta", "-m", multiple=True, metavar="KEY=VALUE", help="Metadata (repeatable).")
@click.option("--content-type", help="Media type to record (default: application/octet-stream).")
@click.option(
    "--no-digest",
    is_flag=True,
    help="Skip reading the file twice to send Content-Digest; the answer is still checked.",
)
@json_option
@pass_context
def put(
    ctx: CliContext,
    source: Path,
    location: str,
    meta: tuple[str, ...],
    content_type: str | None,
    no_digest: bool,
) -> None:
    """Upload SOURCE to LOCATION (COLLECTION/PATH); a new version if it exists."""
    collection, path = _location(location)
    headers: dict[str, str | bytes] = {"Content-Length": str(source.stat().st_size)}
    pairs = []
    for pair in meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--meta {pair!r} must have the form KEY=VALUE")
        pairs.append((key, value))
    try:
        # The server's own rules, checked before any byte is sent.
        metadata = check_metadata(pairs)
    except InvalidMetadata as error:
        raise CliError(f"--meta: {error.detail}") from None
    for key, value in metadata.items():
        headers[f"X-Meta-{key}"] = value.encode("utf-8")  # the server reads values as UTF-8
    if content_type:
        headers["Content-Type"] = content_type
    if not no_digest:
        headers["Content-Digest"] = f"sha-256=:{base64.b64encode(_sha256_of(source)).decode()}:"
    sent = hashlib.sha256()
    client = ctx.client()
    try:
        with source.open("rb") as handle:
            body = client.call(
                "PUT", data_url(collection, path), content=_chunks(handle, sent), headers=headers
            )
    finally:
        client.close()
    if body.get("sha256") != sent.hexdigest():
        raise CliError(
            f"the server recorded sha256 {body.get('sha256')} but the bytes sent hash to "
            f"{sent.hexdigest()}: the file changed while it was being sent?"
        )
    if ctx.json:
        emit_json(body)
        return
    click.echo(
        f"stored {collection}/{path} version {body['version']} "
        f"({human_size(body['size'])}, sha256 {body['sha256']}) id {body['id']}"
    )


@click.command()
@click.argument("location")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: stdout).",
)
@click.option(
    "--version", "version", type=click.IntRange(min=1), help="Version number (default: newest)."
)
@click.option("--range", "byte_range", metavar="FIRST-LAST", help="Only these bytes, e.g. 0-1023.")
@pass_context
def get(
    ctx: CliContext, location: str, output: Path | None, version: int | None, byte_range: str | None
) -> None:
    """Download LOCATION (COLLECTION/PATH), checking its sha256 unless a range is asked."""
    collection, path = _location(location)
    headers = {"Range": f"bytes={byte_range}"} if byte_range else {}
    params = {"version": version} if version else {}
    target = output.with_name(output.name + ".part") if output else None
    digest = hashlib.sha256()
    client = ctx.client()
    try:
        with client.stream(
            "GET", data_url(collection, path), headers=headers, params=params
        ) as response:
            try:
                sink: BinaryIO = target.open("wb") if target else sys.stdout.buffer
            except OSError as exc:
                raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
            try:
                for chunk in response.iter_bytes(CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
            finally:
                if target:
                    sink.close()
            expected = response.headers.get("repr-digest", "")
            whole = response.status_code == 200
    except BaseException:
        if target:
            target.unlink(missing_ok=True)
        raise
    finally:
        client.close()
    if whole and expected and expected != f"sha-256=:{base64.b64encode(digest.digest()).decode()}:":
        if target:
            target.unlink(missing_ok=True)
        raise CliError("the downloaded bytes do not match the file's sha256: try again")
    if target and output:
        target.replace(output)
        if not ctx.json:
            fields([("saved", str(output)), ("sha256", digest.hexdigest())])
