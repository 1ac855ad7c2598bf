"""Uploads are answered in front of the router (the lane); one that reaches the router is
answered the same way. The live-server tests cover the lane; these call the router directly."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from pydantic import SecretStr
from starlette.types import Message, Scope

from datoferum.config import Settings
from datoferum.interfaces.http.app import create_app
from datoferum.services.wiring import prepare

TOKEN = "router-admin-" + "0" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


Exercise = Callable[[httpx.AsyncClient], Awaitable[None]]


def with_router(home: Path, exercise: Exercise) -> None:
    """Run ``exercise`` against the router alone (no lane in front), started and stopped
    through its lifespan as a server would."""
    settings = Settings(
        home=home, database_url=None, storage_root=None, policy_dir=None,
        bootstrap_token=SecretStr(TOKEN), job_threads=0, lake_watch_seconds=0,
    )  # fmt: skip
    prepare(settings)
    router = create_app(settings).app

    async def run() -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}

        async def lifespan() -> None:
            await router(scope, inbox.get, outbox.put)

        life = asyncio.create_task(lifespan())
        await inbox.put({"type": "lifespan.startup"})
        assert (await outbox.get())["type"] == "lifespan.startup.complete"
        try:
            transport = httpx.ASGITransport(app=router)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                await exercise(client)
        finally:
            await inbox.put({"type": "lifespan.shutdown"})
            await outbox.get()
            await life

    asyncio.run(run())


def test_an_upload_reaching_the_router_is_stored(tmp_path: Path) -> None:
    with_router(tmp_path / "home", _stored)


async def _stored(router: httpx.AsyncClient) -> None:
    body = b"bytes that went the long way\n"
    answer = await router.put("/api/v1/data/routed/a/b.txt", content=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert answer.headers["location"] == f"/api/v1/files/{record['id']}"
    assert len(answer.headers.get_list("x-request-id")) == 1
    fetched = await router.get("/api/v1/data/routed/a/b.txt", headers=AUTH)
    assert fetched.content == body


def test_router_refusals_are_problems_with_one_request_id(tmp_path: Path) -> None:
    with_router(tmp_path / "home", _refused)


async def _refused(router: httpx.AsyncClient) -> None:
    nameless = await router.put(
        "/api/v1/data/routed", content=b"x", headers={**AUTH, "X-Request-Id": "given-1"}
    )
    assert nameless.status_code == 400
    assert nameless.headers["content-type"] == "application/problem+json"
    assert nameless.json()["request_id"] == "given-1"
    assert nameless.headers.get_list("x-request-id") == ["given-1"]
    anonymous = await router.put("/api/v1/data/routed/c.txt", content=b"x")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
