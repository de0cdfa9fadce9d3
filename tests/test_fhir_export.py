"""FHIR export: every real record's resources valid in R5 and R4B, the file layout, and the mapping."""

from __future__ import annotations

import json

import orjson
import pytest
from conftest import CTGOV, SEEDS

from trialport import pipeline
from trialport.fhir.build import organization_id, resources
from trialport.fhir.codes import NCT_SYSTEM, TIME_FRAME_EXTENSION, XVER
from trialport.fhir.validate import problems
from trialport.model import Trial


@pytest.fixture(scope="module")
def trials() -> list[Trial]:
    return [r.result for r in pipeline.read([CTGOV, SEEDS]) if isinstance(r.result, Trial)]


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_every_resource_from_real_records_is_valid(trials, version):
    checked = 0
    for trial in trials:
        for resource in resources(trial, version):
            assert problems(resource, version) == [], (trial.id, resource["resourceType"])
            checked += 1
    assert checked > 1600


def test_r5_mapping_of_a_withdrawn_study(trials):
    trial = next(t for t in trials if t.id == "NCT00973089")
    study, sponsor = resources(trial, "R5")
    assert study["id"] == "NCT00973089"
    assert study["identifier"][0] == {"value": "NCT00973089", "system": NCT_SYSTEM, "use": "official"}
    assert study["phase"]["coding"] == [{"system": "http://hl7.org/fhir/research-study-phase", "code": "n-a"}]
    assert study["progressStatus"][0]["state"]["coding"][0]["code"] == "withdrawn"
    assert study["recruitment"] == {"actualNumber": 0}
    assert study["period"] == {"start": "2010-05", "end": "2015-03"}
    (party,) = study["associatedParty"]
    assert (
        party["party"]["reference"]
        == f"Organization/{sponsor['id']}"
        == "Organization/" + organization_id("Hadassah Medical Organization")
    )
    assert sponsor == {
        "resourceType": "Organization",
        "id": sponsor["id"],
        "active": True,
        "name": "Hadassah Medical Organization",
    }
    assert [g["name"] for g in study["comparisonGroup"]] == ["Complete caries removal", "Incomplete caries removal"]
    (outcome,) = study["outcomeMeasure"]
    assert outcome["name"] == "The success of the alternative treatment of the deep carious lesion."
    assert outcome["type"][0]["coding"][0]["code"] == "primary"
    assert outcome["extension"] == [{"url": TIME_FRAME_EXTENSION, "valueString": "Half annually for three years"}]
    assert study["condition"][0]["text"] == "Caries, Dental"


def test_r4b_carries_outcomes_and_summary_in_cross_version_extensions(trials):
    for trial in trials:
        (study, *_) = resources(trial, "R4B")
        outcomes = [e for e in study.get("extension", []) if e["url"] == XVER + "outcomeMeasure"]
        assert len(outcomes) == len(trial.outcomes), trial.id
        if trial.brief_summary and trial.detailed_description:
            assert {"url": XVER + "descriptionSummary", "valueMarkdown": trial.brief_summary} in study["extension"]
            assert study["description"] == trial.detailed_description
        elif trial.brief_summary:
            assert study["description"] == trial.brief_summary
        assert study["status"] in {
            "active",
            "approved",
            "closed-to-accrual",
            "completed",
            "administratively-completed",
            "withdrawn",
            "temporarily-closed-to-accrual",
        }


def test_export_layout_bundle_ndjson_and_stable_ids(tmp_path):
    def run(out):
        report = pipeline.convert([CTGOV / "nsclc-v2-json", SEEDS], out, ["fhir"], options={"fhir_version": "all"})
        assert report.exit_code == 0
        return report

    run(tmp_path / "a")
    run(tmp_path / "b")
    for version in ("R5", "R4B"):
        folder = tmp_path / "a" / "fhir" / version
        studies = [json.loads(line) for line in (folder / "ResearchStudy.ndjson").read_text().splitlines()]
        organizations = [json.loads(line) for line in (folder / "Organization.ndjson").read_text().splitlines()]
        assert len(studies) == 104  # 100 NSCLC studies and 4 seeds
        assert len({o["id"] for o in organizations}) == len(organizations) > 50  # each organization once
        assert len(list(folder.glob("*.json"))) == 104 + 1  # one file per study, and the bundle
        bundle = json.loads((folder / "bundle.json").read_text())
        assert bundle["type"] == "transaction" and len(bundle["entry"]) == len(studies) + len(organizations)
        assert {e["request"]["method"] for e in bundle["entry"]} == {"PUT"}
        assert problems(bundle, version) == []
        # re-exporting gives the same ids and the same bytes
        for path in folder.iterdir():
            assert path.read_bytes() == (tmp_path / "b" / "fhir" / version / path.name).read_bytes(), path.name
        referenced = {p["party"]["reference"] for s in studies for p in s.get("associatedParty", [])}
        assert referenced <= {f"Organization/{o['id']}" for o in organizations}
        assert orjson.loads((folder / "local-70e660247b04.json").read_bytes())["resourceType"] == "ResearchStudy"


def test_validate_command(tmp_path):
    import subprocess
    import sys

    pipeline.convert([CTGOV / "aact-fixtures" / "v2-json"], tmp_path, ["fhir"], options={"fhir_version": "all"})
    run = subprocess.run(
        [sys.executable, "-m", "trialport", "validate", str(tmp_path / "fhir")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout
    assert run.stdout.strip().endswith("0 invalid")
    (tmp_path / "bad.json").write_text('{"resourceType": "ResearchStudy", "id": "x", "status": "active", "titel": 1}')
    run = subprocess.run(
        [sys.executable, "-m", "trialport", "validate", str(tmp_path / "bad.json")], capture_output=True, text=True
    )
    assert run.returncode == 1 and "titel" in run.stdout
