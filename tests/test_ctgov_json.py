"""API v2 and classic JSON on the real records, in every container users have them in."""

from __future__ import annotations

import json
import zipfile

import pytest
from conftest import CTGOV

from trialport import pipeline
from trialport.model import Trial
from trialport.readers import ctgov_json
from trialport.readers.base import Rejection

V2 = CTGOV / "aact-fixtures" / "v2-json"
CLASSIC = CTGOV / "aact-fixtures" / "classic-api-json"
NSCLC = CTGOV / "nsclc-v2-json" / "ctg-studies.json"


def read_all(*paths) -> list:
    return [record.result for record in pipeline.read(paths)]


def one(path) -> Trial:
    (trial,) = read_all(path)
    assert isinstance(trial, Trial), trial
    return trial


def test_every_real_json_record_reads_without_rejection():
    results = read_all(V2, CLASSIC, NSCLC)
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert rejections == []
    by_format: dict[str, int] = {}
    for trial in results:
        by_format[trial.source.format] = by_format.get(trial.source.format, 0) + 1
    # 8 + 5 hand-trimmed single v2 files and the 100-study array; 3 + 100 + 3 + 100 classic studies
    assert by_format == {"ctgov-v2": 113, "ctgov-classic": 206}
    # NCT02552212 is there twice (full and hand-trimmed); NCT04780763 alone and inside results_1.json
    assert len({t.id for t in results}) == len(results) - 2


def test_withdrawn_v2_study_field_by_field():
    trial = one(V2 / "NCT00973089.json")
    assert trial.id == "NCT00973089"
    assert [(i.type, i.value) for i in trial.identifiers] == [("NCT", "NCT00973089"), ("ORG", "LSA001-HMO-CTIL")]
    assert trial.title == "Alternative Treatment of Deep Carious Lesions Based on Biological Evidences"
    assert (trial.status, trial.study_type, trial.phases) == ("WITHDRAWN", "INTERVENTIONAL", ["NA"])
    assert trial.sponsor == "Hadassah Medical Organization" and trial.collaborators == []
    assert trial.design.model_dump() == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "masking": "SINGLE",
        "primary_purpose": "TREATMENT",
        "observational_model": None,
        "time_perspective": None,
    }
    assert (trial.enrollment.count, trial.enrollment.type) == (0, "ACTUAL")
    assert trial.dates.model_dump() == {
        "start": "2010-05",
        "primary_completion": "2015-03",
        "completion": "2015-03",
        "first_posted": "2009-09-09",
        "last_update": "2015-08-19",
    }
    (condition,) = trial.conditions
    assert condition.name == "Caries, Dental"
    assert [(c.code, c.display, c.origin) for c in condition.codes] == [("D000003731", "Dental Caries", "registry")]
    assert trial.keywords == ["Primary tooth", "Caries, Dental", "Alternative treatment"]
    (intervention,) = trial.interventions
    assert (intervention.type, intervention.name) == ("OTHER", "Incomplete caries removal in primary teeth")
    assert intervention.other_names == ["Indirect pulp capping"]
    assert intervention.arm_labels == ["Incomplete caries removal"]
    assert [(a.label, a.type, a.description, a.intervention_names) for a in trial.arms] == [
        ("Complete caries removal", "NO_INTERVENTION", "Control group", []),
        ("Incomplete caries removal", "OTHER", "Test group", ["Other: Incomplete caries removal in primary teeth"]),
    ]
    (outcome,) = trial.outcomes
    assert (outcome.kind, outcome.measure, outcome.time_frame.text) == (
        "primary",
        "The success of the alternative treatment of the deep carious lesion.",
        "Half annually for three years",
    )
    e = trial.eligibility
    assert (e.sex, e.minimum_age, e.maximum_age, e.healthy_volunteers) == ("ALL", "5 Years", "8 Years", True)
    assert e.criteria.startswith("Inclusion Criteria:\n\n* Healthy children\n* Patient's age is 5-8 years")
    assert e.std_ages == ["CHILD"]
    (site,) = trial.locations
    assert site.model_dump() == {
        "facility": "Hadassah Medical Organization",
        "status": None,
        "city": "Jerusalem",
        "state": None,
        "zip": None,
        "country": "Israel",
        "geo": {"lat": 31.76904, "lon": 35.21633},
        "contacts": [],
    }
    (reference,) = trial.references
    assert (reference.pmid, reference.type) == ("18519994", "BACKGROUND")
    assert reference.citation.startswith("Thompson V, Craig RG, Curro FA, Green WS, Ship JA. Treatment of deep carious")
    assert (trial.contacts, trial.officials, trial.links) == ([], [], [])
    assert trial.why_stopped == "recruiting or enrolling participants has halted prematurely and will not resume"


def test_study_with_results_keeps_multi_paragraph_outcome_descriptions():
    trial = one(V2 / "NCT02552212.json")
    assert trial.acronym == "C-AXSPAND"
    assert ("EUDRACT_NUMBER", "2015-001894-41") in [(i.type, i.value) for i in trial.identifiers]
    first = trial.outcomes[0]
    assert first.measure.startswith("Percentage of Subjects With Ankylosing Spondylitis Disease Activity Score")
    assert first.time_frame.text == "Week 52"
    assert first.description.count("\n\n") >= 3  # paragraphs kept
    assert "reduction (improvement) >= 2.0 in the ASDAS" in first.description
    (cimzia,) = [i for i in trial.interventions if i.name == "Certolizumab Pegol"]
    assert cimzia.other_names == ["Cimzia", "CDP870"]
    assert [(c.code, c.display) for c in cimzia.codes] == [("D000068582", "Certolizumab Pegol")]


def test_registry_codes_never_include_browse_leaf_ids():
    for trial in read_all(V2, NSCLC, CLASSIC):
        for item in [*trial.conditions, *trial.interventions]:
            for code in item.codes:
                if code.origin == "registry":
                    assert code.system == "http://id.nlm.nih.gov/mesh"
                    assert code.code[0] in "DC" and code.code[1:].isdigit(), code  # MeSH UIs, never M1234 leaves


def test_codes_attributed_to_the_condition_they_were_found_in():
    trial = one(V2 / "NCT00763412.json")
    cfrd, pancreatic = trial.conditions
    assert "D000003550" in [c.code for c in cfrd.codes]  # Cystic Fibrosis: found in "Cystic Fibrosis Related ..."
    assert "D000003550" not in [c.code for c in pancreatic.codes]
    assert "D000010188" in [c.code for c in pancreatic.codes]  # Pancreatic Insufficiency
    # "Prediabetic State" was found by "Pre-diabetes", in neither condition: kept on both, and said so
    assert all("D000011236" in [c.code for c in c.codes] for c in trial.conditions)
    assert any(d.code == "registry-code-unattributed" and "D000011236" in d.message for d in trial.diagnostics)


def test_hand_trimmed_record_reads_what_it_has():
    trial = one(V2 / "_hand_trimmed_or_mislabeled" / "NCT03453554.json")
    assert (trial.id, trial.title, trial.outcomes, trial.conditions) == (
        "NCT03453554",
        "Evaluating a Digital...",
        [],
        [],
    )


def test_classic_study_field_by_field():
    trial = one(CLASSIC / "NCT00023673.json")
    assert trial.source.format == "ctgov-classic"
    assert (trial.status, trial.study_type, trial.phases) == ("COMPLETED", "INTERVENTIONAL", ["PHASE1", "PHASE2"])
    assert trial.design.model_dump() == {
        "allocation": "NON_RANDOMIZED",
        "intervention_model": "SINGLE_GROUP",
        "masking": "NONE",
        "primary_purpose": "TREATMENT",
        "observational_model": None,
        "time_perspective": None,
    }
    assert (trial.enrollment.count, trial.enrollment.type) == (63, "ACTUAL")
    assert (trial.dates.start, trial.dates.primary_completion, trial.dates.first_posted) == (
        "2001-07",
        "2009-01",
        "2003-04-09",
    )
    assert trial.collaborators == ["National Cancer Institute (NCI)"]
    codes = trial.conditions[0].codes
    assert [(c.code, c.display) for c in codes if c.origin == "registry"] == [
        ("D000008175", "Lung Neoplasms"),
        ("D000002289", "Carcinoma, Non-Small-Cell Lung"),
    ]
    # "Lung Cancer" is in the curated table too: its MeSH code is the registry's, so only the others are added
    assert [(c.system.rsplit("/", 1)[-1], c.code) for c in codes if c.origin == "curated"] == [
        ("icd-10-cm", "C34"),
        ("Thesaurus.owl", "C4878"),
    ]
    assert trial.outcomes[0].time_frame.text == "From start of treatment to 90 days"
    assert (trial.eligibility.sex, trial.eligibility.healthy_volunteers) == ("ALL", False)
    assert trial.eligibility.std_ages == ["CHILD", "ADULT", "OLDER_ADULT"]
    assert [(o.name, o.role) for o in trial.officials] == [("Jeffrey Bradley, MD", "STUDY_CHAIR")]
    assert len(trial.locations) == 41 and trial.locations[0].model_dump() == {
        "facility": "Mobile Infirmary Medical Center",
        "status": None,
        "city": "Mobile",
        "state": "Alabama",
        "zip": "36652-2144",
        "country": "United States",
        "geo": None,  # the classic API has no geo point
        "contacts": [],
    }
    assert [(r.pmid, r.type) for r in trial.references] == [
        ("20368547", "RESULT"),
        ("20457350", "RESULT"),
        (None, "RESULT"),
    ]


def test_classic_withdrawn_observational_study():
    results = {t.id: t for t in read_all(CLASSIC / "covid-19-search.json")}
    assert len(results) == 100
    trial = results["NCT04892888"]
    assert (trial.status, trial.study_type, len(trial.outcomes)) == ("WITHDRAWN", "OBSERVATIONAL", 6)
    assert trial.why_stopped == "Business decision"
    assert [(link.label, link.url[:47]) for link in trial.links] == [
        (
            "To obtain more information on the study, click here/on this link",
            "https://clinicaltrials.takeda.com/study-detail/",
        )
    ]
    assert trial.interventions == [] or all(i.name for i in trial.interventions)


@pytest.fixture(scope="module")
def array_trials() -> list[Trial]:
    return read_all(NSCLC)


def _same(a: list, b: list) -> None:
    assert [t.model_dump(exclude={"source"}) for t in a] == [t.model_dump(exclude={"source"}) for t in b]


def test_containers_give_the_same_trials(tmp_path, array_trials):
    studies = json.loads(NSCLC.read_text(encoding="utf-8"))
    (tmp_path / "page.json").write_text(json.dumps({"studies": studies, "nextPageToken": "abc"}), encoding="utf-8")
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(s) for s in studies) + "\n", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "bulk.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for s in studies:
            archive.writestr(f"ctg-studies/{s['protocolSection']['identificationModule']['nctId']}.json", json.dumps(s))
    _same(read_all(tmp_path / "page.json"), array_trials)
    _same(read_all(tmp_path / "lines.jsonl"), array_trials)
    zipped = read_all(tmp_path / "bulk.zip")
    _same(sorted(zipped, key=lambda t: t.id), sorted(array_trials, key=lambda t: t.id))
    assert zipped[0].source.record == zipped[0].id and zipped[0].source.format == "ctgov-v2"
    assert read_all(tmp_path / "lines.jsonl")[4].source.record == array_trials[4].id


def test_large_files_are_read_incrementally_with_the_same_result(tmp_path, monkeypatch, array_trials):
    monkeypatch.setattr(ctgov_json, "WHOLE_FILE_LIMIT", 0)  # every file counts as large
    studies = json.loads(NSCLC.read_text(encoding="utf-8"))
    (tmp_path / "page.json").write_text(json.dumps({"studies": studies}, indent=1), encoding="utf-8")
    _same(read_all(NSCLC), array_trials)
    _same(read_all(tmp_path / "page.json"), array_trials)
    classic = read_all(CLASSIC / "results_1.json")
    monkeypatch.undo()
    _same(classic, read_all(CLASSIC / "results_1.json"))


def test_broken_json_is_rejected_with_file_record_and_reason(tmp_path):
    studies = json.loads(NSCLC.read_text(encoding="utf-8"))[:3]
    lines = [json.dumps(studies[0]), "{not json", json.dumps({"hello": 1}), json.dumps(studies[1])]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines), encoding="utf-8")
    results = read_all(tmp_path / "mixed.jsonl")
    assert [type(r).__name__ for r in results] == ["Trial", "Rejection", "Rejection", "Trial"]
    assert results[1].record == "line 2" and results[1].reason.startswith("invalid JSON")
    assert "not a ClinicalTrials.gov study" in results[2].reason and "hello" in results[2].reason
    (tmp_path / "truncated.json").write_text(json.dumps(studies)[:-500], encoding="utf-8")
    *whole, truncated = read_all(tmp_path / "truncated.json")  # the studies before the cut still convert
    assert [trial.id for trial in whole] == [
        study["protocolSection"]["identificationModule"]["nctId"] for study in studies[:2]
    ]
    assert isinstance(truncated, Rejection) and truncated.reason.startswith("invalid JSON")
    assert truncated.record == "after #2"


def test_non_json_constants_are_refused_where_they_stand(tmp_path, studies):
    """``Infinity`` between two studies is one refused item; ``NaN`` as a site's latitude refuses that
    study by name: neither is taken as a number, and the rest of the array still reads."""
    first, second = studies[0], json.loads(json.dumps(studies[1]))
    path = tmp_path / "constants.json"
    path.write_text(json.dumps([first, float("inf"), second]), encoding="utf-8")
    results = [r.result for r in pipeline.read([path])]
    assert [type(r).__name__ for r in results] == ["Trial", "Rejection", "Trial"]
    assert (results[1].record, results[1].reason) == ("#2", "invalid JSON: Infinity is not a JSON value")

    site = second["protocolSection"]["contactsLocationsModule"]["locations"][0]
    site["geoPoint"] = {"lat": float("nan"), "lon": -87.6}
    path.write_text(json.dumps([first, second]), encoding="utf-8")
    results = [r.result for r in pipeline.read([path])]
    assert isinstance(results[0], Trial) and isinstance(results[1], Rejection)
    assert results[1].record == second["protocolSection"]["identificationModule"]["nctId"]
    assert "geoPoint of site" in results[1].reason and "'NaN'" in results[1].reason
