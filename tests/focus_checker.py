"""The FinOps Foundation's ``focus-validator`` (PyPI), run on converted files.

Version 2 carries the FOCUS 1.2 rules and needs Python 3.12 or newer, while the project runs on
3.11, so the validator lives in its own virtual environment under
``~/.cache/datoferum/focus-validator``, created on first use from PyPI. The validator exits 0
even when rules fail, so its JUnit report is read instead.

Two faults of focus-validator 2.2.1 are worked around here, not in the product:

* it reads ``focus_validator/rules/currency_codes.csv`` relative to the working directory, so
  it runs from a scratch directory holding a link to its installed package;
* its wheel pins ``numpy<2`` but accepts any pyarrow, and pyarrow 21+ needs numpy 2, so pyarrow
  is held below 21.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VERSION = "2.2.1"
REQUIREMENTS = [f"focus-validator=={VERSION}", "pyarrow<21"]
HOME = Path(os.environ.get("DATOFERUM_CACHE", Path.home() / ".cache" / "datoferum"))
VENV = HOME / "focus-validator"
READY = VENV / f".ready-{VERSION}"


@dataclass
class Verdict:
    """What the validator said about one file: rule id → message, for failed and errored
    rules (an error is a rule that could not run because one it depends on failed)."""

    failed: dict[str, str] = field(default_factory=dict)
    errored: dict[str, str] = field(default_factory=dict)
    passed: int = 0
    skipped: int = 0


def _python_312() -> str | None:
    """A Python 3.12+ interpreter: $FOCUS_VALIDATOR_PYTHON, then PATH, then pyenv's."""
    candidates = [os.environ.get("FOCUS_VALIDATOR_PYTHON", "")]
    candidates += [shutil.which(name) or "" for name in ("python3.13", "python3.12", "python3")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted((str(p) for p in pyenv.glob("3.1[2-9]*/bin/python")), reverse=True)
    for candidate in candidates:
        if not candidate:
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0 and check.stdout.strip() == "True":
            return candidate
    return None


def _uv() -> str | None:
    return shutil.which("uv") or (
        str(HOME / "bootstrap" / "bin" / "uv")
        if (HOME / "bootstrap" / "bin" / "uv").exists()
        else None
    )


def install() -> Path | str:
    """The validator's executable, installing it if needed; a reason string when impossible.
    Test workers running at once wait for each other on a lock file."""
    HOME.mkdir(parents=True, exist_ok=True)
    with (HOME / "focus-validator.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install()


def _install() -> Path | str:
    executable = VENV / "bin" / "focus-validator"
    if READY.exists() and executable.exists():
        return executable
    python = _python_312()
    if python is None:
        return "focus-validator 2.x needs Python >= 3.12 and none was found"
    shutil.rmtree(VENV, ignore_errors=True)
    uv = _uv()
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--python", python, str(VENV)],
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(VENV / "bin" / "python"),
                *REQUIREMENTS,
            ],
        ]
    else:
        steps = [
            [python, "-m", "venv", str(VENV)],
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
        ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"cannot install focus-validator: {' '.join(step[:3])}: {done.stderr[-500:]}"
    READY.write_text(VERSION)
    return executable


def _package_dir(executable: Path) -> Path:
    python = executable.parent / "python"
    out = subprocess.run(
        [
            str(python),
            "-I",  # isolated: a focus_validator.py in the working directory must not shadow it
            "-c",
            "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


class Validator:
    """Runs ``focus-validator`` on one file at a time, for FOCUS 1.2."""

    def __init__(self, executable: Path, scratch: Path) -> None:
        self.executable = executable
        self.scratch = scratch
        link = scratch / "focus_validator"
        if not link.exists():
            link.symlink_to(_package_dir(executable), target_is_directory=True)

    def validate(self, data: Path) -> Verdict:
        report = self.scratch / f"{data.name}.xml"
        report.unlink(missing_ok=True)
        done = subprocess.run(
            [
                str(self.executable),
                "--data-file",
                str(data),
                "--validate-version",
                "1.2",
                "--block-download",
                "--output-type",
                "unittest",
                "--output-destination",
                str(report),
            ],
            cwd=self.scratch,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not report.exists():
            raise AssertionError(f"focus-validator did not run on {data}:\n{done.stderr[-2000:]}")
        return parse(report)


def parse(report: Path) -> Verdict:
    """Read the validator's JUnit report."""
    verdict = Verdict()
    for case in ET.parse(report).getroot().iter("testcase"):
        rule = case.get("name", "").split(" :: ")[0]
        failure, error = case.find("failure"), case.find("error")
        if failure is not None:
            verdict.failed[rule] = failure.get("message", "")
        elif error is not None:
            verdict.errored[rule] = error.get("message", "")
        elif case.find("skipped") is not None:
            verdict.skipped += 1
        else:
            verdict.passed += 1
    return verdict


@pytest.fixture(scope="session")
def focus_validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    """The installed validator; skipped (a failure under CI=true) when it cannot be had."""
    found = install()
    if isinstance(found, str):
        pytest.skip(found)
    return Validator(found, tmp_path_factory.mktemp("focus-validator"))


if __name__ == "__main__":  # install by hand: python tests/focus_checker.py
    print(install(), file=sys.stderr)
