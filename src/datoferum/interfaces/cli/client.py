"""A small HTTP client for the CLI: finds the server and token, and turns failures into one
clear line (:class:`CliError`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class CliError(Exception):
    """A failure to report in one line, with the process exit code to use."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def find_token(explicit: str | None) -> str | None:
    """``--token``, else ``$DATOFERUM_TOKEN``, else the admin token a local server wrote."""
    if explicit:
        return explicit
    if os.environ.get("DATOFERUM_TOKEN"):
        return os.environ["DATOFERUM_TOKEN"]
    home = Path(os.environ.get("DATOFERUM_HOME", "data"))
    try:
        return (home / "admin.token").read_text().strip() or None
    except OSError:
        return None


def _problem_line(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    return f"{detail or response.reason_phrase} (HTTP {response.status_code})"


class Client:
    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, read=max(timeout, 600.0)),
        )
        self._has_token = token is not None

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """Send a request and yield the (unread) response; failures become :class:`CliError`."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._failure(response)
                yield response
        except httpx.ConnectError:
            raise CliError(
                f"cannot reach the server at {self.url}: is 'datoferum serve' running? "
                "(set DATOFERUM_URL to use another address)"
            ) from None
        except httpx.TimeoutException:
            raise CliError(f"the server at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CliError(f"the request to {self.url} failed: {exc}") from None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body."""
        with self.stream(method, path, **kwargs) as response:
            response.read()
            try:
                return response.json()
            except ValueError:
                raise CliError(
                    f"the server answered {path} with something that is not JSON"
                ) from None

    def _failure(self, response: httpx.Response) -> CliError:
        line = _problem_line(response)
        if response.status_code == 401 and not self._has_token:
            line += "; set DATOFERUM_TOKEN or pass --token"
        return CliError(line)
