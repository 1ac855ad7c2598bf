"""Many small uploads with the catalog on MariaDB and PostgreSQL, against SQLite.

The same ``curl -T "f[1-N].bin"`` run as the small-file case, one keep-alive connection, against
three servers that differ only in their catalog: the embedded SQLite file, and a database on a
MariaDB and on a PostgreSQL server started for the run on the same machine (the scripts in
``scripts/servers``). Small uploads are where the catalog weighs most: one transaction with a
handful of statements and a commit per file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import client
from bench.cases import Setup, small_uploads_to
from bench.report import Comparison, Series, interleave
from bench.servers import Datoferum

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts" / "servers"


@contextmanager
def database(kind: str, state: Path) -> Iterator[str]:
    """A fresh server of ``kind`` (mariadb or postgresql) for the run; its URL."""
    script = SCRIPTS / kind
    subprocess.run([str(script), "start", str(state)], check=True)
    try:
        yield (state / "env").read_text().strip().partition("=")[2]
    finally:
        subprocess.run([str(script), "stop", str(state)], check=False)


def small_uploads(setup: Setup) -> list[Comparison]:
    count = setup.small_files
    files = client.small_files(setup.workdir / "small", count, setup.small_size)
    glob = f"{files}/f[1-{count}].bin"
    label = f"{count:,} x {setup.small_size // 1024} KiB uploads, catalog"
    with ExitStack() as stack:
        mariadb = stack.enter_context(database("mariadb", setup.workdir / "mariadb"))
        postgresql = stack.enter_context(database("postgresql", setup.workdir / "postgresql"))
        servers = {
            "SQLite": stack.enter_context(Datoferum(setup.workdir, label="sqlite")),
            "MariaDB": stack.enter_context(
                Datoferum(setup.workdir, database_url=mariadb, label="mariadb")
            ),
            "PostgreSQL": stack.enter_context(
                Datoferum(setup.workdir, database_url=postgresql, label="postgresql")
            ),
        }
        series = {name: Series(f"Datoferum on {name}", "files/s", work=count) for name in servers}

        warm = f"{files}/f[1-50].bin"
        for server in servers.values():
            client.put_many(setup.curl, [*server.headers(), "-T", warm, server.data_url("w")], 50)
        interleave(
            setup.runs,
            [(series[n], small_uploads_to(setup, s, glob, count)) for n, s in servers.items()],
        )
    return [
        Comparison(label, series["MariaDB"], series["SQLite"], None, note="MariaDB"),
        Comparison(label, series["PostgreSQL"], series["SQLite"], None, note="PostgreSQL"),
    ]
