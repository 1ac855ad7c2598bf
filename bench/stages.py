"""``python -m bench.stages``: the CPU time of each stage of a CUR → FOCUS conversion, measured
one stage at a time on one thread.

The normalization case times the whole pipeline, whose three threads share two cores, so a
change to one stage is lost in the noise of the others and of the machine. This tool reads
every batch of a file (parsing), maps and checks them (mapping), then writes them as Parquet
(writing), and prints each stage's CPU time, least and median of a few rounds: the process's,
which counts the thread on which Arrow's CSV reader reads the file (system time, most of it
when the file is not in the page cache) as well as the stage's own. Run with
``PYTHONPATH=<another checkout>/src`` it measures that checkout's code, so two versions are
compared in alternating processes (the way ``docs/benchmarks.md`` reports them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from datoferum.services.focus import converter

from bench.normalize import write_cur

STAGES = ("parsing", "mapping", "writing")


def _timed(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def measure(source: Path, output: Path) -> dict[str, float]:
    """CPU seconds of each stage, for one conversion of ``source``. Parsing and mapping
    are timed on a pass that drops what it makes, as the pipeline does once a batch moves on
    (holding them all would time fresh memory instead); what the next stage needs is made
    again, untimed."""
    stream = converter.FocusStream([source])
    (item,) = stream._plan  # one input: the stages are those of its batches
    convert = converter._Converter(item, stream.schema, stream.services)
    spent = {"parsing": _timed(lambda: deque(item.export.batches(), maxlen=0))}
    batches = list(item.export.batches())
    spent["mapping"] = _timed(lambda: deque(map(convert, batches), maxlen=0))
    mapped = [convert(batch) for batch in batches]

    def write() -> None:
        with converter._writer("parquet", output, stream.schema) as put:
            for batch in mapped:
                put(batch)

    spent["writing"] = _timed(write)
    output.unlink()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    parser.add_argument("--source", type=Path, help="a CUR to convert (else one is written)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of a written CUR")
    parser.add_argument("--rounds", type=int, default=4, help="conversions measured (4)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stages-") as scratch:
        source = options.source or write_cur(Path(scratch) / "cur.csv", options.rows)
        rounds = [measure(source, Path(scratch) / "focus.parquet") for _ in range(options.rounds)]
    for stage in STAGES:
        spent = [found[stage] for found in rounds]
        print(f"{stage}: least {min(spent):.3f} s, median {statistics.median(spent):.3f} s")


if __name__ == "__main__":
    main()
