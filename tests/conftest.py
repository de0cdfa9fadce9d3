"""Shared paths for the tests: real registry records copied into tests/data, and the seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CTGOV = DATA / "ctgov"
SEEDS = ROOT / "seeds"


def v2_studies() -> list[dict]:
    """Every well-formed API v2 study in tests/data: the NSCLC array and the AACT single files."""
    studies = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))
    for path in sorted((CTGOV / "aact-fixtures" / "v2-json").glob("*.json")):
        studies.append(json.loads(path.read_text(encoding="utf-8")))
    return studies


@pytest.fixture(scope="session")
def studies() -> list[dict]:
    return v2_studies()


def tool_missing(reason: str) -> None:
    """A test needs a tool this machine lacks: skipped on a developer's machine, a failure in CI
    (``.ci/run`` sets TRIALPORT_REQUIRE_TOOLS=1), so CI never passes without the real check."""
    import os

    if os.environ.get("TRIALPORT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
