"""HDFS backend over WebHDFS (plain HTTP: no JVM or Hadoop client in the carrier's process).

Layout under the root (``/datoferum`` by default), named for people who browse HDFS::

    <collection>/<path>/v<number>    committed objects (``key_for``)
    .staging/<sha256 of key>/        staging marker of a write: an empty directory whose extended
                                     attribute ``user.datoferum.key`` names the key
    .staging/<sha256 of key>.part    the bytes while they are uploaded

Keys whose first segment starts with ``.`` are refused, so these never meet the objects. HDFS
refuses ``:`` in names, so keys with one are refused too, with a message saying so. A file cannot
also be a folder: once path ``a/v1`` exists, version 1 of path ``a`` (``a/v1``) cannot be stored,
and the reverse; such a commit fails with :class:`StorageUnavailable` naming both paths.

**Writes** stream: WebHDFS CREATE answers with a redirect to a DataNode, and one chunked PUT
carries the whole object there. A background thread runs that request and takes its body from a
small bounded queue that ``write`` fills, so at most a few chunks are in memory. ``commit`` ends the
body, waits for the DataNode's answer (the file is then closed: every block is acknowledged by
``replication`` DataNodes, HDFS's own notion of durable; ``dfs.datanode.synconclose`` on the
cluster adds a disk flush), makes the parent folders and renames the ``.part`` file into place.
RENAME never overwrites, so an existing object is never replaced. The marker stays until
``release``.

**Abandoned writes.** HDFS has no lock that dies with its process (the local disk's ``flock``), so
liveness is a lease: one heartbeat thread per backend sets the modification time of every live
writer's marker every quarter of ``lease_seconds``, and ``abandoned()`` reports markers older than
``lease_seconds`` (120 s by default). A writer counts as live while its object exists, even if it
receives no bytes for a while; once its process dies, or it is dropped without ``release`` or
``abort``, the heartbeats stop. Marker times come from the writers' clocks and are compared with the
sweeper's, so the carrier's hosts need clocks within a fraction of the lease of each other (NTP).

**Authentication** is an ``httpx.Auth``: :class:`SimpleAuth` adds ``user.name``. A delegation
token (``delegation=``) or Kerberos (SPNEGO) would be another ``Auth`` in its place; the requests
do not change. Error messages name the NameNode or DataNode by scheme, host and port only, never a
query string, so a credential in one cannot leak into a problem document or a log.

Empty folders are left after deletes: removing one would race with a writer about to rename a new
version into it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import re
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx

from datoferum.adapters.parallel import each
from datoferum.adapters.storage.base import Capabilities, ObjectStat
from datoferum.errors import InvalidInput, StorageUnavailable

log = logging.getLogger(__name__)

READ_CHUNK: Final = 1024 * 1024
#: Chunks waiting for the upload thread; ``write`` blocks when it is full (back-pressure).
PIPE_DEPTH: Final = 2
KEY_XATTR: Final = "user.datoferum.key"
MAX_SEGMENT_BYTES: Final = 255  # HDFS's default dfs.namenode.fs-limits.max-component-length
#: Batches of this many deletes or lookups or more run on several threads; each is one
#: NameNode call.
PARALLEL_CALLS: Final = 16
CALL_THREADS: Final = 8
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_DETAIL_LIMIT: Final = 300
#: C0 and C1 control characters, and lone surrogates (which UTF-8 cannot carry).
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def check_key(key: str) -> str:
    """Return ``key`` if HDFS can hold it as a relative path under the root, else raise
    :class:`InvalidInput`. Keys come from ``key_for`` (user paths), so each rule says why."""
    if not key or key.startswith("/"):
        raise InvalidInput(f"storage key {key!r} must be a non-empty relative path")
    if "\\" in key:
        raise InvalidInput(f"storage key {key!r} contains a backslash")
    if _CONTROL.search(key):
        raise InvalidInput(f"storage key {key!r} contains a control character")
    if ":" in key:
        raise InvalidInput(f"storage key {key!r} contains ':', which HDFS does not allow in names")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidInput(f"storage key {key!r} has an empty, '.' or '..' segment")
    if segments[0].startswith("."):
        raise InvalidInput(f"storage key {key!r} starts with '.', which is reserved for staging")
    if any(len(segment.encode()) > MAX_SEGMENT_BYTES for segment in segments):
        raise InvalidInput(f"storage key {key!r} has a segment longer than HDFS allows (255 bytes)")
    return key


class SimpleAuth(httpx.Auth):
    """Hadoop's simple authentication: the user name as a query parameter. URLs the NameNode
    hands out already carry it and are sent as they are."""

    def __init__(self, user: str) -> None:
        self._user = user

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "user.name" not in request.url.params:
            request.url = request.url.copy_add_param("user.name", self._user)
        yield request


def _where(url: httpx.URL) -> str:
    """A server named for people: scheme, host and port, never a path or query."""
    return f"{url.scheme}://{url.host}:{url.port}" if url.port else f"{url.scheme}://{url.host}"


def _remote(response: httpx.Response) -> tuple[str, str] | None:
    """The exception name and message of Hadoop's ``RemoteException`` answer, if it is one."""
    try:
        remote = response.json()["RemoteException"]
        return str(remote["exception"]), str(remote["message"])
    except (ValueError, KeyError, TypeError):
        return None


def _remote_detail(response: httpx.Response) -> str:
    """Hadoop's ``RemoteException`` as one line, or the status when the body is not one."""
    remote = _remote(response)
    detail = f"{remote[0]}: {remote[1]}" if remote else f"HTTP {response.status_code}"
    return detail[:_DETAIL_LIMIT]


class WebHdfs:
    """The WebHDFS operations the backend uses, with every failure translated at this boundary
    into :class:`StorageUnavailable` (a missing path is an answer, not a failure)."""

    def __init__(self, url: str, auth: httpx.Auth, timeout: float) -> None:
        self._prefix = url.rstrip("/") + "/webhdfs/v1"
        self.where = _where(httpx.URL(url))
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def _unreachable(self, server: str, role: str, exc: httpx.TransportError) -> StorageUnavailable:
        hint = (
            "check that it runs and that the WebHDFS URL is right"
            if role == "NameNode"
            else "the NameNode sent the client there, so DataNodes must be reachable from this "
            "host under the names they register with (dfs.datanode.hostname)"
        )
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return StorageUnavailable(
            f"the HDFS {role} at {server} cannot be reached ({reason}); {hint}"
        )

    def call(self, method: str, path: str, op: str, **params: str | int) -> httpx.Response:
        """One NameNode request; the caller judges the status."""
        try:
            return self._client.request(
                method, self._prefix + quote(path), params={"op": op, **params}
            )
        except httpx.TransportError as exc:
            raise self._unreachable(self.where, "NameNode", exc) from exc

    def _check(self, response: httpx.Response, action: str, path: str) -> None:
        if response.is_error:
            raise StorageUnavailable(
                f"HDFS at {self.where} failed to {action} {path}: {_remote_detail(response)}"
            )

    def _answer(self, response: httpx.Response, action: str, path: str) -> Any:
        """The JSON of a successful answer (SETXATTR and SETTIMES answer with no body)."""
        self._check(response, action, path)
        return response.json()

    def status(self, path: str) -> dict[str, Any] | None:
        response = self.call("GET", path, "GETFILESTATUS")
        if response.status_code == 404:
            return None
        status: dict[str, Any] = self._answer(response, "look up", path)["FileStatus"]
        return status

    def listing(self, path: str) -> Iterator[dict[str, Any]]:
        """The entries of a folder (none if it does not exist), fetched a page at a time with
        LISTSTATUS_BATCH so a huge folder never sits in memory. Pages continue after a name, so
        entries removed meanwhile do not make the listing skip others. (The parameter is
        ``startafter``: Hadoop 3.5 ignores the ``startAfter`` its documentation spells.)"""
        after: dict[str, str] = {}
        while True:
            response = self.call("GET", path, "LISTSTATUS_BATCH", **after)
            if response.status_code == 404:
                return
            page = self._answer(response, "list", path)["DirectoryListing"]
            entries: list[dict[str, Any]] = page["partialListing"]["FileStatuses"]["FileStatus"]
            if entries and after and entries[0]["pathSuffix"] <= after["startafter"]:
                raise StorageUnavailable(
                    f"HDFS at {self.where} repeats the listing of {path} instead of paging on"
                )
            yield from entries
            if not entries or not page["remainingEntries"]:
                return
            after = {"startafter": entries[-1]["pathSuffix"]}

    def mkdirs(self, path: str) -> None:
        if not self._answer(self.call("PUT", path, "MKDIRS"), "make the folder", path)["boolean"]:
            raise StorageUnavailable(f"HDFS at {self.where} could not make the folder {path}")

    def delete(self, path: str, *, recursive: bool = False) -> bool:
        """True if the path existed."""
        response = self.call("DELETE", path, "DELETE", recursive=str(recursive).lower())
        return bool(self._answer(response, "delete", path)["boolean"])

    def rename(self, source: str, destination: str) -> None:
        """Move a file to a path that must not exist yet. ``renameoptions`` selects HDFS's
        rename2, which refuses an existing destination; the plain RENAME would move the file
        *into* a directory found there, and answers only true or false."""
        response = self.call("PUT", source, "RENAME", destination=destination, renameoptions="NONE")
        self._check(response, f"move {source} to", destination)

    def set_mtime(self, path: str, seconds: float) -> None:
        """Set a path's modification time; a path that is gone stays gone."""
        response = self.call("PUT", path, "SETTIMES", modificationtime=int(seconds * 1000))
        if response.status_code != 404:
            self._check(response, "set the time of", path)

    def set_xattr(self, path: str, name: str, value: str) -> None:
        encoded = "0s" + base64.b64encode(value.encode()).decode()
        response = self.call(
            "PUT", path, "SETXATTR", flag="CREATE", **{"xattr.name": name, "xattr.value": encoded}
        )
        self._check(response, "label", path)

    def xattr(self, path: str, name: str) -> str | None:
        """The value of an extended attribute, or None if it or the path is missing."""
        response = self.call("GET", path, "GETXATTRS", encoding="base64", **{"xattr.name": name})
        remote = _remote(response)
        if response.status_code == 404 or (remote and remote[0] == "XAttrNotFoundException"):
            return None
        found = self._answer(response, "read the labels of", path)["XAttrs"]
        return base64.b64decode(found[0]["value"].removeprefix("0s")).decode() if found else None

    def redirect(self, response: httpx.Response, action: str, path: str) -> httpx.URL:
        """The DataNode a CREATE or OPEN answer sends the client to."""
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            self._check(response, action, path)
            raise StorageUnavailable(
                f"HDFS at {self.where} answered {action} {path} without sending the client to a "
                f"DataNode (HTTP {response.status_code}); is this a WebHDFS NameNode?"
            )
        return httpx.URL(location)

    def upload(self, location: httpx.URL, body: Iterator[bytes]) -> None:
        """PUT ``body`` (chunked) to the DataNode a CREATE was sent to."""
        headers = {"content-type": "application/octet-stream"}
        try:
            response = self._client.put(location, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise self._unreachable(_where(location), "DataNode", exc) from exc
        if response.status_code != 201:
            raise StorageUnavailable(
                f"the HDFS DataNode at {_where(location)} refused an upload: "
                f"{_remote_detail(response)}"
            )

    def download(self, location: httpx.URL) -> Iterator[bytes]:
        """GET from the DataNode an OPEN was sent to, in chunks of at most ``READ_CHUNK``."""
        server = _where(location)
        try:
            with self._client.stream("GET", location) as response:
                if response.is_error:
                    response.read()
                    raise StorageUnavailable(
                        f"the HDFS DataNode at {server} failed to send bytes: "
                        f"{_remote_detail(response)}"
                    )
                yield from response.iter_bytes(READ_CHUNK)
        except httpx.TransportError as exc:
            raise self._unreachable(server, "DataNode", exc) from exc


class _Cancelled(Exception):
    """Raised inside the request body to break off an upload that is being aborted."""


_END: Final = object()
_CANCEL: Final = object()


class _Upload:
    """One HTTP request whose body is pushed, chunk by chunk, from the writer's own thread.

    ``httpx`` pulls a request body from an iterator while the writer's caller pushes chunks, so
    the request runs on its own thread and a bounded queue joins the two. When the request ends
    (done or failed) the thread drains the queue, so a writer blocked on a full one wakes up; one
    writer at a time, as ``ObjectWriter`` requires, so no push can be stranded after that.
    """

    def __init__(self, send: Callable[[Iterator[bytes]], None]) -> None:
        self._chunks: queue.Queue[object] = queue.Queue(PIPE_DEPTH)
        self._ended = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(send,), name="webhdfs-upload", daemon=True
        )
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        while True:
            item = self._chunks.get()
            if item is _END:
                return
            if item is _CANCEL:
                raise _Cancelled
            assert isinstance(item, bytes)
            yield item

    def _run(self, send: Callable[[Iterator[bytes]], None]) -> None:
        try:
            send(self._body())
        except BaseException as exc:  # handed to the writer's thread, which raises it
            self._error = exc
        finally:
            self._ended.set()
            while not self._chunks.empty():
                self._chunks.get_nowait()

    def push(self, chunk: bytes) -> None:
        if self._ended.is_set():
            raise self._failure()
        self._chunks.put(chunk)

    def finish(self) -> None:
        """End the body and wait for the answer; raise what went wrong, if anything did."""
        self._chunks.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._failure()

    def cancel(self) -> None:
        if not self._ended.is_set():
            self._chunks.put(_CANCEL)
        self._thread.join()

    def _failure(self) -> BaseException:
        """The request's own error (already translated by ``WebHdfs.upload``), for the writer's
        thread to raise."""
        return self._error or StorageUnavailable("the upload to HDFS has already ended")


class _Leases:
    """Keeps the staging markers of live writers fresh: the heartbeat ``abandoned()`` relies on.

    Writers are held weakly, so one dropped without ``release`` or ``abort`` stops being renewed
    like one whose process died. The thread runs only while there are writers to renew.
    """

    def __init__(self, renew: Callable[[str], None], interval: float) -> None:
        self._renew = renew
        self._interval = interval
        self._writers: weakref.WeakValueDictionary[str, WebHdfsWriter] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, marker: str, writer: WebHdfsWriter) -> None:
        with self._lock:
            self._writers[marker] = writer
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="webhdfs-leases", daemon=True
                )
                self._thread.start()

    def drop(self, marker: str) -> None:
        with self._lock:
            self._writers.pop(marker, None)

    def stop(self) -> None:
        """Renew nothing more; the thread ends at its next beat."""
        with self._lock:
            self._writers.clear()

    def _due(self) -> list[str]:
        """The markers to renew now; none means the thread stops (under the lock, so a new
        ``hold`` starts a fresh thread)."""
        with self._lock:
            markers = list(self._writers.keys())
            if not markers:
                self._thread = None
            return markers

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            markers = self._due()
            if not markers:
                return
            for marker in markers:
                try:
                    self._renew(marker)
                except Exception as error:  # nobody to raise to here; the next beat tries again
                    log.warning("could not renew the HDFS staging lease %s: %s", marker, error)


class WebHdfsWriter:
    """A staged write: marker, streamed ``.part`` file, rename into place (module docstring)."""

    def __init__(self, backend: WebHdfsBackend, key: str) -> None:
        self.key = key
        self._backend = backend
        self._marker = backend.marker_path(key)
        self._part = self._marker + ".part"
        self._final = backend.object_path(key)
        self._upload: _Upload | None = None
        self._staged = False
        self._committed = False
        self._unstaged = False

    def _started(self) -> _Upload:
        if self._upload is None:
            self._staged = True  # before the calls: abort removes whatever part of it exists
            self._backend.stage(self._marker, self.key, self)
            self._upload = self._backend.start_upload(self._part)
        return self._upload

    def write(self, data: bytes) -> None:
        if data:
            self._started().push(bytes(data))

    def commit(self, *, flush: bool = True) -> None:
        self._started().finish()
        self._backend.move_into_place(self._part, self._final)
        self._committed = True

    def release(self) -> None:
        self._unstage(lambda: self._backend.hdfs.delete(self._marker, recursive=True))

    def abort(self) -> None:
        if self._upload is not None:
            self._upload.cancel()
        if self._committed:
            self._backend.hdfs.delete(self._final)
            self._committed = False
        if self._staged:
            self._unstage(lambda: self._backend.unstage(self._marker))

    def _unstage(self, remove: Callable[[], object]) -> None:
        """Remove the staging leftovers once; stop the heartbeat even if that fails (then the
        sweep finds the marker when the lease runs out)."""
        if self._unstaged:
            return
        try:
            remove()
            self._unstaged = True
        finally:
            self._backend.leases.drop(self._marker)


class WebHdfsBackend:
    """Stores objects as files in HDFS, spoken to over WebHDFS with ``httpx``."""

    capabilities = Capabilities()

    def __init__(
        self,
        url: str,
        *,
        user: str,
        root: str = "/datoferum",
        replication: int = 3,
        name: str = "hdfs",
        lease_seconds: float = 120.0,
        timeout: float = 60.0,
    ) -> None:
        if not root.startswith("/"):
            raise InvalidInput(f"the HDFS root {root!r} must be an absolute path")
        if replication < 1:
            raise InvalidInput(f"the HDFS replication factor must be at least 1, not {replication}")
        self.name = name
        self.root = root.rstrip("/")
        if self.root:
            check_key(self.root[1:])
        self.replication = replication
        self.hdfs = WebHdfs(url, SimpleAuth(user), timeout)
        self._staging = f"{self.root}/.staging"
        self._lease = lease_seconds
        self.leases = _Leases(self._renew, lease_seconds / 4)

    def close(self) -> None:
        """Stop renewing leases and close the HTTP connections; the backend is done."""
        self.leases.stop()
        self.hdfs.close()

    def object_path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def marker_path(self, key: str) -> str:
        """Marker names are hashes: keys may be longer than one HDFS name may be."""
        return f"{self._staging}/{hashlib.sha256(check_key(key).encode()).hexdigest()}"

    def key_for(self, collection: str, path: str, version_id: str, number: int) -> str:
        return check_key(f"{collection}/{path}/v{number}")

    def open_writer(self, key: str) -> WebHdfsWriter:
        return WebHdfsWriter(self, check_key(key))

    def stage(self, marker: str, key: str, writer: WebHdfsWriter) -> None:
        """Make the marker of a write and start renewing it."""
        self.hdfs.mkdirs(marker)
        self.hdfs.set_xattr(marker, KEY_XATTR, key)
        self._renew(marker)
        self.leases.hold(marker, writer)

    def unstage(self, marker: str) -> None:
        """Remove a write's ``.part`` file, then its marker (in this order, so a ``.part`` never
        outlives the marker that leads the sweep to it)."""
        self.hdfs.delete(marker + ".part")
        self.hdfs.delete(marker, recursive=True)

    def _renew(self, marker: str) -> None:
        self.hdfs.set_mtime(marker, time.time())

    def start_upload(self, part: str) -> _Upload:
        response = self.hdfs.call(
            "PUT", part, "CREATE", overwrite="false", replication=self.replication
        )
        location = self.hdfs.redirect(response, "create", part)
        return _Upload(lambda body: self.hdfs.upload(location, body))

    def move_into_place(self, part: str, final: str) -> None:
        self.hdfs.mkdirs(final.rsplit("/", 1)[0])
        self.hdfs.rename(part, final)

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self.object_path(key)
        params: dict[str, str | int] = {"offset": offset}
        if length is not None:
            params["length"] = length
        response = self.hdfs.call("GET", path, "OPEN", **params)
        if response.status_code == 404:
            raise StorageUnavailable(f"object {key} is missing from HDFS at {self.hdfs.where}")
        if response.status_code == 403 and self._past_end(key, offset):
            return  # HDFS refuses to open at the very end; the local disk reads nothing there
        yield from self.hdfs.download(self.hdfs.redirect(response, "read", path))

    def _past_end(self, key: str, offset: int) -> bool:
        stat = self.stat(key)
        return stat is not None and offset >= stat.size

    def stat(self, key: str) -> ObjectStat | None:
        status = self.hdfs.status(self.object_path(key))
        if status is None or status["type"] != "FILE":
            return None
        return ObjectStat(key, int(status["length"]))

    def stat_many(self, keys: Sequence[str]) -> list[ObjectStat | None]:
        return each(
            self.stat, keys, threads=CALL_THREADS, at_least=PARALLEL_CALLS, name="webhdfs-stat"
        )

    def delete(self, key: str) -> bool:
        return self.hdfs.delete(self.object_path(key))

    def delete_many(self, keys: Sequence[str]) -> list[bool]:
        """One DELETE per object (WebHDFS has no batch); each is durable in the NameNode's edit
        log when it returns. Large batches run on a few threads, as latency is the cost."""
        paths = [self.object_path(key) for key in keys]
        return each(
            self.hdfs.delete,
            paths,
            threads=CALL_THREADS,
            at_least=PARALLEL_CALLS,
            name="webhdfs-delete",
        )

    def object_keys(self) -> Iterator[str]:
        """Every file under the root, folder by folder, except the backend's own ``.staging``
        (the one top-level name starting with a dot, which no key may)."""
        folders = [""]
        while folders:
            folder = folders.pop()
            for entry in self.hdfs.listing(f"{self.root}/{folder}".rstrip("/") or "/"):
                name = entry["pathSuffix"]
                if not folder and name.startswith("."):
                    continue
                relative = f"{folder}/{name}" if folder else name
                if entry["type"] == "DIRECTORY":
                    folders.append(relative)
                else:
                    yield relative

    def local_path(self, key: str) -> Path | None:
        return None

    def abandoned(self) -> Iterator[str]:
        """Keys of markers whose lease ran out. A marker without its key (the writer died
        between making it and labelling it) has nothing beside it and is removed here."""
        now = time.time() * 1000
        for entry in self.hdfs.listing(self._staging):
            if entry["type"] != "DIRECTORY" or now - entry["modificationTime"] < self._lease * 1000:
                continue
            marker = f"{self._staging}/{entry['pathSuffix']}"
            key = self.hdfs.xattr(marker, KEY_XATTR)
            if key is None:
                self.hdfs.delete(marker, recursive=True)
            else:
                yield key

    def forget_staging(self, key: str) -> None:
        self.unstage(self.marker_path(key))

    def check(self) -> None:
        self.hdfs.mkdirs(self._staging)
