"""A webhook receiver for the tests: a real HTTP server in a process of its own.

    python webhook_receiver.py PORT RECORD_FILE [--fail-first K]

Every POST is appended to RECORD_FILE as one JSON line (path, headers, body, the status it was
answered with). The first K requests are answered 500 (K = -1: every request).
``POST /control?fail=N&delay=S`` changes how many of the next requests fail and how long each
answer waits; ``GET /health`` answers 200. Neither is recorded.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class State:
    def __init__(self, record: Path, fail: int) -> None:
        self.record = record
        self.fail = fail
        self.delay = 0.0
        self.lock = threading.Lock()

    def next_status(self) -> int:
        with self.lock:
            if self.fail == 0:
                return 200
            if self.fail > 0:
                self.fail -= 1
            return 500

    def write(self, entry: dict[str, object]) -> None:
        with self.lock, self.record.open("a") as out:
            out.write(json.dumps(entry) + "\n")


def handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._answer(200 if self.path == "/health" else 404)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            url = urlsplit(self.path)
            if url.path == "/control":
                query = parse_qs(url.query)
                with state.lock:
                    state.fail = int(query.get("fail", [state.fail])[0])
                    state.delay = float(query.get("delay", [state.delay])[0])
                self._answer(204)
                return
            status = state.next_status()
            time.sleep(state.delay)
            state.write(
                {
                    "path": url.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8"),
                    "status": status,
                    "at": time.time(),
                }
            )
            self._answer(status)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("record", type=Path)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    state = State(args.record, args.fail_first)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(state))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
