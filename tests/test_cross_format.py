"""The same study read from two formats gives the same canonical values where both carry the field.

Real pairs: NCT00023673 and NCT02028676 exist both as classic API JSON and as legacy XML. For the
CSV exports no real pair exists, so ``csv_layout`` renders one from the other format's source.
"""

from __future__ import annotations

import re

import pytest
from conftest import CTGOV
from csv_layout import current_csv, legacy_csv

from trialport import pipeline
from trialport.model import Trial

AACT = CTGOV / "aact-fixtures"


def trials(*paths) -> list[Trial]:
    results = [record.result for record in pipeline.read(paths)]
    assert all(isinstance(r, Trial) for r in results), [r for r in results if not isinstance(r, Trial)]
    return results


def words(text: str | None) -> list[str]:
    """Text as words: list markers and line layout differ between formats, words do not."""
    return re.findall(r"\w+", re.sub(r"(?m)^\s*(?:[-*]|\d+\.)\s+", " ", text or ""))


SHARED_SCALARS = ("title", "official_title", "acronym", "status", "study_type", "phases", "sponsor", "collaborators")


@pytest.mark.parametrize("nct", ["NCT00023673", "NCT02028676"])
def test_classic_json_and_legacy_xml_agree(nct):
    (classic,) = trials(AACT / "classic-api-json" / f"{nct}.json")
    (xml,) = trials(AACT / "legacy-xml" / f"{nct}.xml")
    for field in SHARED_SCALARS:
        assert getattr(classic, field) == getattr(xml, field), field
    assert classic.dates == xml.dates
    assert classic.design == xml.design and classic.enrollment == xml.enrollment
    assert [c.name for c in classic.conditions] == [c.name for c in xml.conditions]
    assert classic.keywords == xml.keywords
    assert [(i.type, i.name, i.description, i.other_names, sorted(i.arm_labels)) for i in classic.interventions] == [
        (i.type, i.name, i.description, i.other_names, sorted(i.arm_labels)) for i in xml.interventions
    ]
    assert [(a.label, a.type, a.description, sorted(a.intervention_names)) for a in classic.arms] == [
        (a.label, a.type, a.description, sorted(a.intervention_names)) for a in xml.arms
    ]
    assert [(o.kind, o.measure, o.time_frame) for o in classic.outcomes] == [
        (o.kind, o.measure, o.time_frame) for o in xml.outcomes
    ]
    assert [words(o.description) for o in classic.outcomes] == [words(o.description) for o in xml.outcomes]
    assert classic.eligibility.model_dump(exclude={"criteria"}) == xml.eligibility.model_dump(exclude={"criteria"})
    # the classic API dropped list markers the XML keeps; the words are the same
    for field in ("brief_summary", "detailed_description"):
        assert words(getattr(classic, field)) == words(getattr(xml, field)), field
    assert words(classic.eligibility.criteria) == words(xml.eligibility.criteria)
    assert [i.value for i in classic.identifiers] == [i.value for i in xml.identifiers]


def test_api_v2_and_current_csv_export_agree(tmp_path, studies):
    (tmp_path / "export.csv").write_text(current_csv(studies), encoding="utf-8")
    from_json = {t.id: t for t in trials(CTGOV / "nsclc-v2-json", *sorted((AACT / "v2-json").glob("*.json")))}
    from_csv = trials(tmp_path / "export.csv")
    assert len(from_csv) == len(studies) == 108
    outcome_fields = outcome_right = 0
    for csv_trial in from_csv:
        json_trial = from_json[csv_trial.id]
        for field in ("title", "status", "study_type", "phases", "sponsor", "collaborators", "brief_summary"):
            assert getattr(csv_trial, field) == getattr(json_trial, field), (csv_trial.id, field)
        assert csv_trial.design == json_trial.design, csv_trial.id
        assert (csv_trial.dates.start, csv_trial.dates.completion) == (
            json_trial.dates.start,
            json_trial.dates.completion,
        )
        assert [c.name for c in csv_trial.conditions] == [c.name for c in json_trial.conditions]
        assert [(i.type, i.name) for i in csv_trial.interventions] == [
            (i.type, i.name) for i in json_trial.interventions
        ]
        assert [o.kind for o in csv_trial.outcomes] == [o.kind for o in json_trial.outcomes], csv_trial.id
        for a, b in zip(csv_trial.outcomes, json_trial.outcomes, strict=True):
            outcome_fields += 3
            outcome_right += (
                (a.measure == b.measure) + (a.description == b.description) + (a.time_frame == b.time_frame)
            )
    # the export flattens each outcome into one string; splitting it back is right this often
    print(f"\nv2 -> CSV -> model: {outcome_right}/{outcome_fields} outcome fields equal")
    assert outcome_right / outcome_fields >= 0.93


def test_legacy_xml_and_legacy_csv_export_agree(tmp_path):
    paths = sorted((AACT / "legacy-xml").glob("NCT0*.xml"))
    (tmp_path / "legacy.csv").write_text(legacy_csv(paths), encoding="utf-8")
    from_csv = trials(tmp_path / "legacy.csv")
    from_xml = {t.id: t for t in trials(*paths)}
    assert len(from_csv) == len(paths) == 63
    for csv_trial in from_csv:
        xml_trial = from_xml[csv_trial.id]
        for field in ("title", "acronym", "status", "study_type", "phases", "sponsor", "collaborators"):
            assert getattr(csv_trial, field) == getattr(xml_trial, field), (csv_trial.id, field)
        assert csv_trial.dates == xml_trial.dates, csv_trial.id
        assert csv_trial.design == xml_trial.design, csv_trial.id
        assert (csv_trial.enrollment or xml_trial.enrollment) is None or (
            csv_trial.enrollment.count == xml_trial.enrollment.count
        ), csv_trial.id
        assert [(i.type, i.name) for i in csv_trial.interventions] == [
            (i.type, i.name) for i in xml_trial.interventions
        ]
        assert [o.measure for o in csv_trial.outcomes] == [o.measure for o in xml_trial.outcomes]
        sex = [t.eligibility.sex if t.eligibility else None for t in (csv_trial, xml_trial)]
        assert sex[0] == sex[1], csv_trial.id
