"""Legacy XML on the real records; hostile XML refused."""

from __future__ import annotations

from conftest import CTGOV

from trialport import pipeline
from trialport.model import Trial
from trialport.readers.base import Rejection
from trialport.readers.ctgov_xml import unwrap

XML = CTGOV / "aact-fixtures" / "legacy-xml"


def read(path):
    return [record.result for record in pipeline.read([path])]


def test_every_xml_record_reads():
    results = read(XML)
    assert len(results) == 65
    assert [r for r in results if isinstance(r, Rejection)] == []


def test_withdrawn_study_field_by_field():
    (trial,) = read(XML / "NCT02591810.xml")
    assert (trial.id, trial.acronym, trial.status) == ("NCT02591810", "DRUJ", "WITHDRAWN")
    assert trial.title == "Treatment Options for Acute Distal Radioulnar Joint Instability"
    assert trial.sponsor == "Orlando Health, Inc."
    assert (trial.study_type, trial.phases) == ("INTERVENTIONAL", ["NA"])
    assert trial.design.model_dump() == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "masking": "SINGLE",
        "primary_purpose": "TREATMENT",
        "observational_model": None,
        "time_perspective": None,
    }
    assert (trial.dates.start, trial.dates.primary_completion, trial.dates.completion) == (
        "2015-11-05",
        "2016-11-05",
        "2016-11-09",
    )
    # hard-wrapped text blocks come out as one paragraph, as the website shows them
    assert trial.brief_summary.startswith(
        "This prospective randomized control trial (PRCT) aims to compare the outcome of three treatments for acute"
    )
    assert "\n" not in trial.brief_summary
    assert [(o.kind, o.measure, o.time_frame.text) for o in trial.outcomes] == [
        ("primary", "Evaluation and assessment of DASH scores.", "Up to 5 years."),
        ("secondary", "Visual Analog Pain scale", "Up to 5 years."),
        ("other", "Mayo wrist assessment scores", "Up to 5 years"),
        ("other", "Patient satisfaction", "Up to 5 years"),
    ]
    # withdrawn before any site opened: no sites, contacts or references, only the study chair
    assert (trial.locations, trial.contacts, trial.references, trial.links) == ([], [], [], [])
    assert [o.model_dump() for o in trial.officials] == [
        {"name": "Tara Roberts, BS", "affiliation": "Orlando Health", "role": "STUDY_CHAIR"}
    ]


def test_observational_and_expanded_access_studies():
    (observational,) = read(XML / "NCT00001177.xml")
    assert observational.study_type == "OBSERVATIONAL" and observational.outcomes == []
    (nih,) = observational.locations
    assert (nih.facility, nih.status, nih.city, nih.state, nih.zip, nih.country, nih.geo) == (
        "National Institutes of Health Clinical Center, 9000 Rockville Pike",
        "RECRUITING",
        "Bethesda",
        "Maryland",
        "20892",
        "United States",
        None,
    )
    (opr,) = nih.contacts  # the registry's phone extension field holds a TTY number: kept as given
    assert (opr.role, opr.phone, opr.email) == ("CONTACT", "800-411-1222 ext. TTY8664111010", "prpl@cc.nih.gov")
    assert [(link.label, link.url) for link in observational.links] == [
        (
            "NIH Clinical Center Detailed Web Page",
            "https://clinicalstudies.info.nih.gov/cgi/detail.cgi?A_1981-M-0126.html",
        )
    ]
    assert (observational.references[0].pmid, observational.references[0].type) == ("1404717", "BACKGROUND")
    (expanded,) = read(XML / "NCT01220531.xml")
    assert (expanded.study_type, expanded.status) == ("EXPANDED_ACCESS", "AVAILABLE")


def test_unwrap_keeps_paragraphs_and_list_items():
    text = """
      First line of a paragraph
      continues here.

      -  item one
         wrapped
      -  item two
    """
    assert unwrap(text) == "First line of a paragraph continues here.\n\n-  item one wrapped\n-  item two"
    nested = "\n    Criteria:\n\n      -  an item with\n\n           -  a sub-item that\n              wraps\n"
    assert unwrap(nested) == "Criteria:\n\n  -  an item with\n\n       -  a sub-item that wraps"


def test_entity_bomb_and_external_entity_are_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        "<clinical_study><brief_title>&lol2;</brief_title></clinical_study>"
    )
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    external = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<clinical_study><brief_title>&xxe;</brief_title></clinical_study>"
    )
    (tmp_path / "bomb.xml").write_text(bomb, encoding="utf-8")
    (tmp_path / "external.xml").write_text(external, encoding="utf-8")
    for name in ("bomb.xml", "external.xml"):
        (result,) = read(tmp_path / name)
        assert isinstance(result, Rejection) and result.reason.startswith("refused"), result
        assert "TOP SECRET" not in str(result)


def test_broken_xml_is_rejected(tmp_path):
    (tmp_path / "cut.xml").write_text("<clinical_study><brief_title>half", encoding="utf-8")
    (result,) = read(tmp_path / "cut.xml")
    assert isinstance(result, Rejection) and result.reason.startswith("invalid XML")
    assert isinstance(read(XML / "NCT00023673.xml")[0], Trial)
