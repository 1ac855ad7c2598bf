"""The HTTP cases: one large upload, one large download, many small uploads.

Rules shared by every case, so that the systems are compared on equal terms:

* all servers write to the same disk (the benchmark's work directory);
* ``sync`` runs before every timed transfer, so no run pays for the dirty pages of the one
  before it (nginx and SeaweedFS leave a whole GiB in the page cache when they answer);
* uploaded data is deleted after each run, outside the timing, so the disk never fills up;
* each run writes to a new name, so no server takes an overwrite path in some runs only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import client
from bench.report import Comparison, Series, interleave
from bench.servers import Datoferum, Nginx, SeaweedFS

MiB = 1024 * 1024


@dataclass(frozen=True)
class Setup:
    """What every case needs: where to work, how often to measure, which programs to drive."""

    workdir: Path
    runs: int
    curl: str
    nginx: str
    weed: str
    payload: Path
    small_files: int = 5000
    small_size: int = 4096


def _size_label(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size / MiB:g} MiB"


def settled() -> None:
    """Flush everything earlier runs left dirty, so each run starts from the same disk state."""
    os.sync()


def upload(setup: Setup) -> list[Comparison]:
    """One file in one PUT. Datoferum hashes it and fsyncs it before answering; nginx and
    SeaweedFS answer once the bytes are in the page cache."""
    size = setup.payload.stat().st_size
    mib = size / MiB
    label = f"{_size_label(size)} upload"
    with (
        Datoferum(setup.workdir) as dato,
        Nginx(setup.workdir, setup.nginx) as nginx,
        SeaweedFS(setup.workdir, setup.weed) as weed,
    ):
        ours = Series("Datoferum", "MiB/s", work=mib)
        webdav = Series("nginx WebDAV PUT", "MiB/s", work=mib)
        filer = Series("SeaweedFS filer PUT", "MiB/s", work=mib)

        def to_datoferum(run: int) -> float:
            settled()
            url = dato.data_url("upload", f"r{run}.bin")
            seconds = client.put(setup.curl, url, setup.payload, dato.headers())
            dato.wipe()
            return mib / seconds

        def to_nginx(run: int) -> float:
            settled()
            seconds = client.put(setup.curl, f"{nginx.url}/upload/r{run}.bin", setup.payload)
            nginx.wipe()
            return mib / seconds

        def to_seaweedfs(run: int) -> float:
            settled()
            seconds = client.put(setup.curl, f"{weed.url}/upload/r{run}.bin", setup.payload)
            weed.wipe("upload")
            return mib / seconds

        interleave(setup.runs, [(ours, to_datoferum), (webdav, to_nginx), (filer, to_seaweedfs)])
    return [
        Comparison(label, ours, filer, 1.5),
        Comparison(label, ours, webdav, 0.45),
    ]


def download(setup: Setup) -> list[Comparison]:
    """One file in one GET to /dev/null, from the page cache on both sides (one untimed GET
    first): this measures the server's send path, not the disk."""
    size = setup.payload.stat().st_size
    mib = size / MiB
    with Datoferum(setup.workdir) as dato, Nginx(setup.workdir, setup.nginx) as nginx:
        ours_url = dato.data_url("download", "big.bin")
        nginx_url = f"{nginx.url}/download/big.bin"
        client.put(setup.curl, ours_url, setup.payload, dato.headers())
        client.put(setup.curl, nginx_url, setup.payload)
        settled()
        client.get(setup.curl, ours_url, size, dato.headers())
        client.get(setup.curl, nginx_url, size)
        ours = Series("Datoferum", "MiB/s", work=mib)
        sendfile = Series("nginx sendfile", "MiB/s", work=mib)
        interleave(
            setup.runs,
            [
                (ours, lambda _: mib / client.get(setup.curl, ours_url, size, dato.headers())),
                (sendfile, lambda _: mib / client.get(setup.curl, nginx_url, size)),
            ],
        )
    return [Comparison(f"{_size_label(size)} download", ours, sendfile, 0.8)]


def small_uploads_to(
    setup: Setup, server: Datoferum, glob: str, count: int
) -> Callable[[int], float]:
    """A measure: ``count`` uploads to ``server`` over one connection, in files/s."""

    def measure(run: int) -> float:
        settled()
        args = [*server.headers(), "-T", glob, server.data_url(f"small-r{run}")]
        seconds = client.put_many(setup.curl, args, count)
        server.wipe()
        return count / seconds

    return measure


def small(setup: Setup) -> list[Comparison]:
    """Many small files, one request each, in sequence over one keep-alive connection: the
    per-request cost (routing, catalog transaction, fsyncs) with the bytes themselves negligible.

    Two extra series, for reading the gap rather than for a target: SeaweedFS with
    ``?fsync=true`` (its volume file flushed before the answer) and Datoferum with
    ``DATOFERUM_DURABILITY=relaxed`` (nothing flushed before the answer, as SeaweedFS by default).
    """
    count = setup.small_files
    files = client.small_files(setup.workdir / "small", count, setup.small_size)
    glob = f"{files}/f[1-{count}].bin"
    label = f"{count:,} x {setup.small_size // 1024} KiB uploads"
    with (
        Datoferum(setup.workdir) as dato,
        Datoferum(setup.workdir, durability="relaxed") as relaxed,
        SeaweedFS(setup.workdir, setup.weed) as weed,
    ):
        ours = Series("Datoferum", "files/s", work=count)
        ours_relaxed = Series("Datoferum durability=relaxed", "files/s", work=count)
        plain = Series("SeaweedFS filer PUT", "files/s", work=count)
        synced = Series("SeaweedFS filer ?fsync=true", "files/s", work=count)

        def to_seaweedfs(run: int) -> float:
            settled()
            seconds = client.put_many(setup.curl, ["-T", glob, f"{weed.url}/small-r{run}/"], count)
            weed.wipe(f"small-r{run}")
            return count / seconds

        def to_seaweedfs_fsync(run: int) -> float:
            config = client.upload_config(
                setup.workdir / "fsync.curl", f"{weed.url}/fsync-r{run}/", files, count,
                "?fsync=true",
            )  # fmt: skip
            settled()
            seconds = client.put_many(setup.curl, ["-K", str(config)], count)
            weed.wipe(f"fsync-r{run}")
            return count / seconds

        warm = f"{files}/f[1-50].bin"
        for server in (dato, relaxed):
            client.put_many(setup.curl, [*server.headers(), "-T", warm, server.data_url("w")], 50)
        client.put_many(setup.curl, ["-T", warm, f"{weed.url}/warm/"], 50)
        interleave(
            setup.runs,
            [
                (ours, small_uploads_to(setup, dato, glob, count)),
                (plain, to_seaweedfs),
                (synced, to_seaweedfs_fsync),
                (ours_relaxed, small_uploads_to(setup, relaxed, glob, count)),
            ],
        )
    return [
        Comparison(label, ours, plain, 0.75),
        Comparison(label, ours, synced, None),
        Comparison(label, ours_relaxed, plain, None, note="durability=relaxed"),
    ]
