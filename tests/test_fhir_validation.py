"""Every exported resource checked by an independent validator driven by the official HL7 definitions:
FHIR.js (npm ``fhir``) with ``hl7.fhir.r5.core@5.0.0`` / ``hl7.fhir.r4b.core@4.3.0`` (tests/node)."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import CTGOV, SEEDS
from fhir_servers import node_tools

from trialport import pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fhirjs():
    node = node_tools()

    def validate(version: str, *files) -> list[dict]:
        run = subprocess.run(
            ["node", str(node / "validate.js"), version, *map(str, files)], capture_output=True, text=True, check=True
        )
        return [json.loads(line) for line in run.stdout.splitlines()]

    return validate


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("fhir")
    pipeline.convert([CTGOV, SEEDS], out, ["fhir"], options={"fhir_version": "all"})
    return out / "fhir"


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_every_exported_resource_is_valid(fhirjs, exported, version):
    folder = exported / version
    results = fhirjs(version, folder / "ResearchStudy.ndjson", folder / "Organization.ndjson")
    invalid = [r for r in results if not r["valid"]]
    assert invalid == []
    assert sum(r["id"].startswith("ResearchStudy/") for r in results) == 633


def test_the_validator_catches_a_code_outside_its_value_set(fhirjs, tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text(
        '{"resourceType":"ResearchStudy","id":"x","status":"nonsense"}\n'
        '{"resourceType":"ResearchStudy","id":"y","status":"active","titel":"typo"}\n',
        encoding="utf-8",
    )
    for version in ("R5", "R4B"):
        results = fhirjs(version, bad)
        assert [r["valid"] for r in results] == [False, False], version
        assert "not found in value set" in results[0]["errors"][0]["message"]
