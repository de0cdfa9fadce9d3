"""CAR-T features: the seeds as the issue states them, and agreement with a reading by hand of the
49 CAR trials in the MRD/AML CSV (tests/data/cart-labels.csv, each record read for its targets)."""

from __future__ import annotations

import csv

from conftest import CTGOV, DATA, SEEDS

from trialport import pipeline
from trialport.mapping.terminology import antigens
from trialport.model import Trial


def seed(prefix: str) -> Trial:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    (record,) = pipeline.read([path])
    return record.result


def targets(trial: Trial) -> set[str]:
    key_of = {a.coding.code: a.key for a in antigens()}
    return {key_of[c.code] for c in trial.cell_therapy.targets}


def test_seeds():
    assert targets(seed("000")) == {"BCMA"}
    assert targets(seed("001")) == {"CD7"}
    s3 = seed("003").cell_therapy
    assert targets(seed("003")) == {"CD19", "CD22"}
    assert (s3.multi_target, s3.costimulatory) == ("bispecific", ["4-1BB"])
    s4 = seed("004").cell_therapy
    assert targets(seed("004")) == {"CD22"}
    assert (s4.generation, s4.costimulatory) == ("3", ["4-1BB", "CD28"])  # CD137 is 4-1BB
    assert any("CD137" in e.text for e in s4.evidence)
    assert seed("000").cell_therapy.targets[0].code == "HGNC:11913"


def test_evidence_names_field_and_words():
    therapy = seed("003").cell_therapy
    fields = {e.field for e in therapy.evidence}
    assert "title" in fields
    assert all(e.text for e in therapy.evidence)


def test_agreement_with_hand_reading_of_49_car_trials():
    labels = {row["nct"]: row for row in csv.DictReader((DATA / "cart-labels.csv").open(encoding="utf-8"))}
    trials = {r.result.id: r.result for r in pipeline.read([CTGOV / "mrd-aml-csv"])}
    found = {nct for nct, t in trials.items() if t.cell_therapy}
    assert len(labels) == 49
    assert found == set(labels)  # every CAR trial found, no other trial taken for one
    same_targets = sum(targets(trials[n]) == set(filter(None, row["targets"].split("|"))) for n, row in labels.items())
    same_modality = sum(trials[n].cell_therapy.modality == row["modality"] for n, row in labels.items())
    print(f"\nCAR trials: targets agree on {same_targets}/49, modality on {same_modality}/49")
    assert same_modality == 49
    assert same_targets >= 47
