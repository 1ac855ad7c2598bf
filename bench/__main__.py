"""``python -m bench``: run the benchmark cases and print the comparison table.

Everything the run creates (servers' data, payloads) lives in one temporary directory that is
removed at the end, and every server started is stopped, even on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bench import (
    audit,
    cases,
    catalogs,
    client,
    lake,
    normalize,
    policy,
    purge,
    replication,
    report,
    tools,
)

CASES = (
    "upload", "download", "small", "catalogs", "audit", "policy", "purge", "replication",
    "normalize", "lake",
)  # fmt: skip
RESULTS = Path(__file__).resolve().parent / "results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", default=",".join(CASES),
        help=f"comma-separated cases to run, among {', '.join(CASES)} (default: all)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs per case (5)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()),
        help="directory on the disk to test; a temporary directory is made inside it (%(default)s)",
    )  # fmt: skip
    parser.add_argument("--upload-mib", type=int, default=1024, help="large file size (1024)")
    parser.add_argument("--small-files", type=int, default=5000, help="small uploads (5000)")
    parser.add_argument(
        "--audit-events", type=int, default=1_000_000, help="events in the chain (1000000)"
    )
    parser.add_argument(
        "--policy-files", type=int, default=1_000_000, help="files in the policy catalog (1000000)"
    )
    parser.add_argument("--purge-files", type=int, default=2000, help="files purged per run (2000)")
    parser.add_argument(
        "--replication-mib", type=int, default=1024, help="size of the file copied to HDFS (1024)"
    )
    parser.add_argument(
        "--normalize-rows", type=int, default=10_000_000,
        help="rows of the CUR file normalized (10000000)",
    )  # fmt: skip
    parser.add_argument(
        "--lake-rows", type=int, default=10_000_000, help="FOCUS rows in the lake (10000000)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to save figures")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install nginx")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose among {', '.join(CASES)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so the servers' context managers and cleanup still run.
    raise SystemExit(128 + signum)


def _timed(name: str, run: Callable[[], list[report.Comparison]]) -> list[report.Comparison]:
    """Run one case, then say how long it took and how much CPU other tasks were denied."""
    print(f"== {name}", flush=True)
    started, stalled = time.monotonic(), tools.cpu_stall_seconds()
    rows = run()
    elapsed = time.monotonic() - started
    note = ""
    if stalled is not None and (now := tools.cpu_stall_seconds()) is not None:
        note = f"; CPU pressure {100 * (now - stalled) / elapsed:.0f}% of the time"
    print(f"   ({elapsed:.0f} s{note})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    http = {"upload", "download", "small", "catalogs"} & set(args.cases)
    try:
        curl = tools.curl() if http else ""
        nginx = tools.nginx(not args.no_install) if {"upload", "download"} & http else ""
        weed = tools.weed() if {"upload", "small"} & http else ""
        if "replication" in args.cases:
            replication.check_tools()
    except tools.MissingTool as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="datoferum-bench-", dir=args.workdir))
    machine = tools.machine(workdir)
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    rows: list[report.Comparison] = []
    try:
        payload = workdir / "payload.bin"
        if {"upload", "download"} & http:
            print(f"Writing a fresh random {args.upload_mib} MiB file ...", flush=True)
            client.random_file(payload, args.upload_mib * cases.MiB)
        setup = cases.Setup(workdir, args.runs, curl, nginx, weed, payload, args.small_files)
        runners: dict[str, Callable[[], list[report.Comparison]]] = {
            "upload": lambda: cases.upload(setup),
            "download": lambda: cases.download(setup),
            "small": lambda: cases.small(setup),
            "catalogs": lambda: catalogs.small_uploads(setup),
            "audit": lambda: audit.verify(workdir, args.runs, args.audit_events),
            "policy": lambda: policy.evaluate(workdir, args.runs, args.policy_files),
            "purge": lambda: purge.execute(workdir, args.runs, args.purge_files),
            "replication": lambda: replication.replicate(workdir, args.runs, args.replication_mib),
            "normalize": lambda: normalize.throughput(workdir, args.runs, args.normalize_rows),
            "lake": lambda: lake.query(workdir, args.runs, args.lake_rows),
        }
        for name in CASES:
            if name in args.cases:
                rows += _timed(name, runners[name])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"Medians of {args.runs} interleaved runs:\n")
    print(report.table(rows))
    print("\nEvery run:\n" + report.spreads(rows))
    report.save(args.results, rows, machine, args.runs)
    print(f"\nSaved to {args.results}/latest.json and latest.md")
    failed = [row for row in rows if row.verdict == "FAIL"]
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
