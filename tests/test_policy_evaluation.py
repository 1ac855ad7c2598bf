"""Policy runs over the catalog select exactly the matching files, in id (capture) order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datoferum.config import Settings
from datoferum.domain.roles import SYSTEM
from datoferum.services import policies
from datoferum.services.capture import CaptureRequest
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

POLICY = """
policies:
  - name: pick
    resource: file
    mode: {type: manual}
    filters:
      - collection: [alpha, gamma]
      - path: "**/keep/**"
      - size: {ge: 20}
    actions:
      - notify: {}
"""


@pytest.fixture
def services(tmp_path: Path, database_url: str | None) -> Iterator[Services]:
    built = build_services(
        Settings(home=tmp_path / "home", durability="relaxed", database_url=database_url)
    )
    migrate.upgrade(built.catalog)
    yield built
    built.close()


def test_evaluation_merges_collections_in_id_order(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policies, "BATCH", 3)  # many batches per collection
    expected = []
    for number in range(60):
        collection = ("alpha", "beta", "gamma")[number % 3]
        path = f"site/{'keep' if number % 4 else 'drop'}/f{number}.bin"
        size = 10 + number % 25
        capture = services.capture.start(CaptureRequest(collection, path, SYSTEM))
        record = capture.finish(b"x" * size)
        if collection != "beta" and number % 4 and size >= 20:
            expected.append(record.id)
    services.policies.apply("test", POLICY, "test")
    _stored, items = services.policies.evaluate("pick")
    # Ids are UUIDv7: in time order across milliseconds, random within one.
    assert [item.file_id for item in items] == sorted(expected)
    assert len(expected) > 10


def test_evaluation_without_collections_reads_every_file(services: Services) -> None:
    ids = []
    for number in range(7):
        capture = services.capture.start(CaptureRequest(f"c{number % 2}", f"f{number}", SYSTEM))
        ids.append(capture.finish(b"data").id)
    services.policies.apply("test", POLICY.replace("[alpha, gamma]", "[c0, c1, nowhere]"), "t")
    assert services.policies.evaluate("pick")[1] == []  # no path matches "**/keep/**"
    everything = POLICY.replace(
        '      - collection: [alpha, gamma]\n      - path: "**/keep/**"\n      - size: {ge: 20}\n',
        "",
    ).replace("filters:\n", "filters: []\n")
    services.policies.apply("test", everything, "t")
    assert [item.file_id for item in services.policies.evaluate("pick")[1]] == sorted(ids)
