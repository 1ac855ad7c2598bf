"""Two local disks as two storage backends, for tests of placement and integrity: ``local``
takes uploads, ``cold`` is a second directory. (The same code places copies on HDFS and S3; the
backend contract suite checks those backends themselves.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datoferum.config import Settings
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate

TWO_DISKS = """
backends:
  local: {{type: local, root: "{root}/hot"}}
  cold: {{type: local, root: "{root}/cold"}}
policies:
  hot: [local]
  safe: [local, cold]
  archive: [cold]
default: {default}
"""


def two_disks(tmp_path: Path, default: str) -> Path:
    """A storage.yaml of the two disks under ``tmp_path``, with ``default`` as default policy."""
    layout = tmp_path / "storage.yaml"
    layout.write_text(TWO_DISKS.format(root=tmp_path, default=default))
    return layout


def two_disk_services(
    tmp_path: Path, database_url: str | None, default: str, **settings: Any
) -> Services:
    """Services on the two disks, with the catalog migrated."""
    built = build_services(
        Settings(
            home=tmp_path / "home", database_url=database_url,
            storage_config=two_disks(tmp_path, default), **settings,
        )
    )  # fmt: skip
    migrate.upgrade(built.catalog)
    return built
