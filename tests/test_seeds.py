"""The seed documents, read field by field. Expected values were read off the seed files by hand."""

from __future__ import annotations

import pytest
from conftest import SEEDS

from trialport.model import Trial, trial_id
from trialport.readers.base import Skipped
from trialport.readers.seedtext import parse


def read_seed(prefix: str):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return parse(path.read_bytes(), str(path))


def outcomes(trial: Trial, kind: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (o.measure, o.description, o.time_frame.text if o.time_frame else None)
        for o in trial.outcomes
        if o.kind == kind
    ]


def test_000_bcma_two_primary_outcomes_and_no_secondary_line():
    trial = read_seed("000")
    assert trial.title == "Clinical Study of T Cell Infusion Targeting BCMA Chimeric Antigen Receptor"
    assert [c.name for c in trial.conditions] == ["Multiple Myeloma"]
    assert [(i.type, i.name) for i in trial.interventions] == [
        ("DRUG", "T cell infusion agent targeting BCMA chimeric antigen receptor")
    ]
    assert outcomes(trial, "primary") == [
        (
            "Incidence of AE or SAE",
            "Incidence of AE or SAE with grade 3 or above related to study drug within 12 weeks of study drug infusion",
            "Study drug infusion within 12 weeks",
        ),
        (
            "ORR",
            "Objective to study the clinical objective remission rate within 12 weeks after drug infusion",
            "Within 12 weeks after infusion of study drug",
        ),
    ]
    assert outcomes(trial, "secondary") == []
    # Two paragraphs in the summary, and the same two in the detailed description.
    paragraphs = trial.brief_summary.split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("Chimeric antigen receptor T cells (car-t) is one of")
    assert paragraphs[1].startswith("BCMA is a specific surface protein of B lymphocytes")
    assert trial.detailed_description == trial.brief_summary


def test_001_cd7_repairs_mojibake_and_keeps_full_width_bracket():
    trial = read_seed("001")
    assert trial.title == "CD7 CAR-T in the Treatment of CD7 Positive Refractory Relapsed Acute Leukemia"
    assert [c.name for c in trial.conditions] == ["T-ALL"]
    assert [(i.type, i.name) for i in trial.interventions] == [
        ("DRUG", "T cell injection targeting CD7 chimeric antigen receptor")
    ]
    assert outcomes(trial, "primary") == [("DLT", "Dose-limiting toxicity", "Up to 2 years")]
    assert outcomes(trial, "secondary") == [
        ("Safety results", "Number of adverse events", "Up to 2 years"),
        ("PK", "The maximum concentration (Cmax\uff09", "Up to 2 years"),
        ("PD", "Absolute value of CD7 Positive Cells in peripheral blood at each time point", "Up to 2 years"),
    ]
    assert trial.brief_summary.endswith("but has no effect on cells that do not express the antigen")


def test_002_article_is_skipped_with_a_reason():
    result = read_seed("002")
    assert isinstance(result, Skipped)
    assert result.reason.startswith("not a registry record: first line is a 846-character paragraph")
    assert "\n" not in str(result)


def test_003_cd19_cd22_four_primary_seven_secondary_and_markdown_escapes_undone():
    trial = read_seed("003")
    assert trial.title.startswith("CD19 & CD22 Bispecific CAR T Cells")
    assert "CD19 & CD22 bispecific CAR-T cells in relapsed" in trial.brief_summary
    assert "\\" not in trial.brief_summary + trial.detailed_description
    assert [c.name for c in trial.conditions] == ["B-Cell Lymphoblastic Leukemia/Lymphoma"]
    assert [(i.type, i.name) for i in trial.interventions] == [("DRUG", "CD19&CD22 bispecific CAR-T cells")]
    primary, secondary = outcomes(trial, "primary"), outcomes(trial, "secondary")
    assert len(primary) == 4 and len(secondary) == 7
    assert {tf for _, _, tf in primary + secondary} == {"within 3 years after infusion"}
    assert primary[0][0] == (
        "Overall response rate (ORR) of administering CD19&CD22 dual-target CAR-T cells "
        "In the treatment of relapsed/refractory B-cell hematologic tumors"
    )
    assert primary[3][1] == "PR will be assessed from CAR-T cell infusion to death or last follow-up."
    assert secondary[3][1].startswith("Quantity of CD19&CD22 CAR copies in peripheral blood")
    assert [m for m, _, _ in secondary][4:] == [
        "The Cmax of CAR T cells of CD19&CD22 dual-target CAR-T cell therapy in relapsed/refractory B-cell "
        "hematological malignancies",
        "The Tmax of CAR T cells of CD19&CD22 dual-target CAR-T cell therapy in relapsed/refractory B-cell "
        "hematological malignancies",
        "The AUC28D of CAR T cells of CD19&CD22 dual-target CAR-T cell therapy in relapsed/refractory B-cell "
        "hematological malignancies",
    ]


def test_004_cd22_conditions_genetic_intervention_and_plus_minus_repaired():
    trial = read_seed("004")
    assert [c.name for c in trial.conditions] == ["B Cell Lymphoma", "Acute Lymphoblastic Leukemia"]
    assert [(i.type, i.name) for i in trial.interventions] == [("GENETIC", "Third generation CAR-T cells")]
    primary, secondary = outcomes(trial, "primary"), outcomes(trial, "secondary")
    assert len(primary) == 1 and len(secondary) == 7
    assert primary[0][0] == "Number of participants with adverse events"
    assert primary[0][2] == "3 years"
    measure, description, time_frame = secondary[0]
    assert measure == "One-month remission rate"
    assert "day 30 (\u00b12)" in description
    assert description.endswith("(NCCN, Version 1.2015).")
    assert time_frame == "1 month"
    assert [m for m, _, _ in secondary[1:4]] == ["Overall survival", "Event-free survival", "Relapse-free survival"]
    assert secondary[2][1].endswith("whichever came first, or last visit (censored).")
    assert trial.detailed_description.endswith("in patients with relapsed or refractory B-cell Malignancies.")
    assert trial.detailed_description.count("\n\n") == 1


@pytest.mark.parametrize("prefix", ["000", "001", "003", "004"])
def test_seed_ids_are_local_and_stable(prefix):
    trial = read_seed(prefix)
    assert trial.id == trial_id(None, trial.title)
    assert trial.id.startswith("local-") and len(trial.id) == len("local-") + 12
    assert trial.source.format == "seedtext" and len(trial.source.sha256) == 64
