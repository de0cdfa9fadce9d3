"""Model → FHIR → model keeps every field FHIR carries, on the real records, in R5 and in R4B."""

from __future__ import annotations

import pytest
from conftest import CTGOV, SEEDS

from trialport import pipeline
from trialport.fhir.build import resources
from trialport.model import Trial
from trialport.readers.fhir import study


def carried(trial: Trial) -> dict:
    """The fields the FHIR export carries (eligibility and arms' intervention lists it does not)."""
    return {
        "id": trial.id,
        "identifiers": [(i.value, i.type) for i in trial.identifiers],
        "titles": (trial.title, trial.official_title, trial.acronym),
        "text": (trial.brief_summary, trial.detailed_description),
        "conditions": [(c.name, sorted((x.system, x.code) for x in c.codes)) for c in trial.conditions],
        "keywords": trial.keywords,
        "interventions": [
            (i.type, i.name, [x.code for x in i.codes], [x.code for x in i.targets]) for i in trial.interventions
        ],
        "outcomes": [(o.kind, o.measure, o.description, o.time_frame) for o in trial.outcomes],
        "phases": trial.phases,
        "status": trial.status
        if trial.status
        in {
            "RECRUITING",
            "NOT_YET_RECRUITING",
            "ACTIVE_NOT_RECRUITING",
            "ENROLLING_BY_INVITATION",
            "COMPLETED",
            "TERMINATED",
            "WITHDRAWN",
            "SUSPENDED",
        }
        else None,
        "study_type": trial.study_type,
        "parties": (trial.sponsor, trial.collaborators),
        "enrollment": trial.enrollment.model_dump()
        if trial.enrollment and trial.enrollment.count is not None
        else None,
        "dates": (trial.dates.start, trial.dates.completion),
        "design": trial.design,
        "arms": [(a.label, a.type, a.description) for a in trial.arms],
        "cell_therapy": trial.cell_therapy,
    }


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_round_trip_on_real_records(version):
    trials = [r.result for r in pipeline.read([CTGOV, SEEDS]) if isinstance(r.result, Trial)]
    assert len(trials) > 600
    for trial in trials:
        back = study(resources(trial, version)[0], "memory", None)
        assert isinstance(back, Trial), back
        assert back.source.format == f"fhir-{version.lower()}"
        before, after = carried(trial), carried(back)
        for key in before:
            assert after[key] == before[key], (trial.id, key)


def test_reader_takes_bundles_and_ndjson(tmp_path):
    pipeline.convert(
        [SEEDS, CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"],
        tmp_path,
        ["fhir"],
        options={"fhir_version": "all"},
    )
    for version in ("R5", "R4B"):
        for name in ("bundle.json", "ResearchStudy.ndjson", "local-70e660247b04.json"):
            results = [r.result for r in pipeline.read([tmp_path / "fhir" / version / name])]
            assert all(isinstance(t, Trial) for t in results)
            assert len(results) == (1 if name.startswith("local") else 5), name
        organizations = [r.result for r in pipeline.read([tmp_path / "fhir" / version / "Organization.ndjson"])]
        assert organizations == []  # an Organization is not a trial: passed over
