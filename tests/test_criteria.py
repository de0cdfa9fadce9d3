"""The eligibility splitter: each pattern on a small block, then the real records of tests/data."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import CTGOV, tool_missing

from trialport import pipeline
from trialport.mapping.criteria import split
from trialport.mapping.enrich import enrich


def test_headings_in_any_case_with_prefixes_and_qualifiers() -> None:
    block = (
        "Key Inclusion Criteria:\n* Age 18 or over\n* Signed consent\n\n"
        "MAIN EXCLUSION CRITERIA\n* Pregnancy\n\n"
        "Inclusion criteria for part A\n* Part A cohort\n\n"
        "Exclusion criteria (all patients):\n* Active infection\n\n"
        "Non-inclusion criteria:\n* Under guardianship"
    )
    found = split(block)
    assert found.problem is None
    assert found.inclusion == ["Age 18 or over", "Signed consent", "Part A cohort"]
    assert found.exclusion == ["Pregnancy", "Active infection", "Under guardianship"]


def test_bracketed_headings_and_a_group_s_own_exclusion_heading() -> None:
    # NCT05482828 (registry XML, unwrapped): headings in brackets
    block = (
        "[Inclusion Criteria]\n\n  -  DHI (Dizziness Handicap Inventory) score \u2265 24\n\n"
        "[Exclusion Criteria]\n\n  -  Pregnancy, breastfeeding, or plans of becoming pregnant\n\n"
        "  -  Other allergic diseases"
    )
    found = split(block)
    assert found.inclusion == ["DHI (Dizziness Handicap Inventory) score \u2265 24"]
    assert found.exclusion == ["Pregnancy, breastfeeding, or plans of becoming pregnant", "Other allergic diseases"]
    # NCT05381090: each group's exclusions under a heading of its own, with or without a bullet
    block = (
        "Inclusion Criteria:\n\n  -  Age > 60 years\n\nExclusion Criteria:\n\n  -  Vagotomy\n\n"
        "  -  Parkinson's Disease exclusion criteria\n\n  -  Use of Duodopa\n\n"
        "Dementia with Lewy bodies exclusion criteria\n\n"
        "  -  Onset of motor Parkinsonism symptoms greater than 12 months prior to dementia\n     diagnosis\n\n"
        "Controls exclusion criteria\n\n  -  Evidence of parkinsonism"
    )
    found = split(block)
    assert found.inclusion == ["Age > 60 years"]
    assert found.exclusion == [
        "Vagotomy",
        "Use of Duodopa",
        "Onset of motor Parkinsonism symptoms greater than 12 months prior to dementia diagnosis",
        "Evidence of parkinsonism",
    ]
    # a sentence that names the kind is a criterion, not a heading
    found = split(
        "Inclusion Criteria:\n* Adult\n\nExclusion Criteria:\n* Patients who do not meet the inclusion criteria"
    )
    assert found.exclusion == ["Patients who do not meet the inclusion criteria"]


@pytest.mark.parametrize(
    "marker",
    ["* ", "- ", "• ", "+ ", "o ", "1. ", "1) ", "(1) ", "a. ", "a) ", "(a) ", "i. ", "(i) "],
)
def test_every_list_marker_is_removed(marker: str) -> None:
    second = {"1": "2", "a": "b", "i": "ii"}
    marker2 = next((marker.replace(k, v) for k, v in second.items() if k in marker), marker)
    found = split(f"Inclusion Criteria:\n{marker}Adults\n{marker2}Written consent\n\nExclusion Criteria:\n{marker}None")
    assert found == (["Adults", "Written consent"], ["None"], None)


def test_nested_numbered_list_ends_where_the_numbering_resumes() -> None:
    block = "Inclusion Criteria:\n1. Adults\n2. Consent\n3. Women who are:\n1. postmenopausal, or\n2. sterile\n4. Fit"
    assert split(block).inclusion == ["Adults", "Consent", "Women who are:\n- postmenopausal, or\n- sterile", "Fit"]


def test_a_change_of_marker_after_a_colon_is_a_sub_list() -> None:
    block = (
        "Inclusion Criteria:\n"
        "1. Adequate organ function defined as:\n* ANC ≥ 1.5\n* Platelets ≥ 100\n2. Consent\n\n"
        "Exclusion Criteria:\n* Any of the following:\n\na) HIV\nb) Hepatitis\n* Pregnancy"
    )
    found = split(block)
    assert found.inclusion == ["Adequate organ function defined as:\n- ANC ≥ 1.5\n- Platelets ≥ 100", "Consent"]
    assert found.exclusion == ["Any of the following:\n- HIV\n- Hepatitis", "Pregnancy"]


def test_nesting_by_indentation_with_hard_wraps_and_sub_sub_items() -> None:
    block = (
        "Inclusion Criteria:\n\n"
        "  - Patients must have normal organ function as\n    defined below:\n\n"
        "      - leukocytes ≥ 3,000/mm3\n\n"
        "      - bilirubin < 1.5 mg/dl OR a stable\n        bilirubin:\n"
        "          - in stented patients\n"
        "  - Consent"
    )
    assert split(block).inclusion == [
        "Patients must have normal organ function as defined below:\n"
        "- leukocytes ≥ 3,000/mm3\n- bilirubin < 1.5 mg/dl OR a stable bilirubin:\n  - in stented patients",
        "Consent",
    ]


def test_part_headings_are_not_items() -> None:
    block = (
        "Inclusion Criteria:\n\nDisease characteristics:\n- Stage IV\n\nLaboratory values:\n- ANC ≥ 1.5\n\n"
        "PRIOR THERAPY\n- No prior chemotherapy\n\nExclusion Criteria:\n\nGroup 1\n- Heart failure"
    )
    found = split(block)
    assert found == (["Stage IV", "ANC ≥ 1.5", "No prior chemotherapy"], ["Heart failure"], None)


def test_criteria_one_per_line_without_markers() -> None:
    block = (
        "Inclusion Criteria:\n\nAdults\n\nSigned consent\n\nExclusion Criteria:\n\n"
        "Abnormal laboratory values, any of them:\n\nLymphopenia\nFerritin > 300\n\nPregnancy"
    )
    found = split(block)
    assert found.inclusion == ["Adults", "Signed consent"]
    assert found.exclusion == ["Abnormal laboratory values, any of them:\n- Lymphopenia\n- Ferritin > 300", "Pregnancy"]


def test_a_lead_in_sentence_is_not_an_item() -> None:
    block = (
        "Exclusion Criteria:\n\nA potential subject who meets any of the following criteria will be excluded:\n\nA\nB"
    )
    assert split(block) == ([], ["A", "B"], None)


def test_notes_stay_only_in_the_block() -> None:
    block = (
        "Inclusion Criteria:\n* Adults\n\nNote: other protocol-defined criteria apply.\n\nExclusion Criteria:\n* None"
    )
    assert split(block) == (["Adults"], ["None"], None)


def test_only_one_kind() -> None:
    assert split("Exclusion Criteria:\n- Pregnancy\n- Dementia") == ([], ["Pregnancy", "Dementia"], None)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (
            "DISEASE CHARACTERISTICS:\n- Stage IV\n\nPATIENT CHARACTERISTICS:\n- Age over 18",
            "no inclusion or exclusion",
        ),
        ("Adults over 18 with asthma.\n\nInclusion Criteria:\n- Asthma", "text before the first"),
        ("Inclusion/Exclusion Criteria:\n- Asthma", "both kinds"),
        ("Inclusion Criteria:\n- Adults Exclusion Criteria: None", "inside a line"),
    ],
)
def test_what_cannot_be_split_gives_empty_lists_and_a_problem(block: str, problem: str) -> None:
    found = split(block)
    assert found.inclusion == found.exclusion == []
    assert problem in found.problem


def test_a_more_indented_item_is_a_sub_item_and_a_less_indented_one_closes_the_sub_list() -> None:
    block = "Inclusion Criteria:\n\n* Active disease defined as:\n\n  * BASDAI ≥ 4\n  * Spinal pain ≥ 4\n* Consent"
    assert split(block).inclusion == ["Active disease defined as:\n- BASDAI ≥ 4\n- Spinal pain ≥ 4", "Consent"]


def test_an_indented_paragraph_under_an_item() -> None:
    block = (
        "Inclusion Criteria:\n\n"
        "  1. Four or more episodes a year.\n\n     Subjects are not told the threshold.\n\n"
        "  2. Normal blood count (neutrophils\n\n     ≥ 1.5 x 10^9/L)\n"
        "  3. Patients meet all of the following criteria:\n\n"
        "      1. Contraception during the study.\n\n         A woman over 50 is not of childbearing potential."
    )
    assert split(block).inclusion == [
        "Four or more episodes a year.\n- Subjects are not told the threshold.",  # a new paragraph: its sub-line
        "Normal blood count (neutrophils ≥ 1.5 x 10^9/L)",  # a wrapped sentence: joined
        "Patients meet all of the following criteria:\n"
        "- Contraception during the study. A woman over 50 is not of childbearing potential.",  # under a sub-item
    ]


def test_an_item_ending_with_a_colon_owns_the_values_after_it_in_the_same_list() -> None:
    block = (
        "Inclusion Criteria:\n* Adequate liver function:\n* ALT < 2.5 x ULN\n* Total bilirubin ≤ 1.5 x ULN\n"
        "* Adequate renal function: creatinine clearance ≥ 45 mL/min\n* Participants must have:\n"
        "* measurable disease\n* a life expectancy of 3 months\n* Signed consent"
    )
    assert split(block).inclusion == [
        "Adequate liver function:\n- ALT < 2.5 x ULN\n- Total bilirubin ≤ 1.5 x ULN",
        "Adequate renal function: creatinine clearance ≥ 45 mL/min",
        "Participants must have:\n- measurable disease\n- a life expectancy of 3 months",
        "Signed consent",
    ]


def test_sentences_over_indented_lists_are_groups_but_a_single_one_is_a_lead_in() -> None:
    groups = (
        "Inclusion Criteria:\n\nWomen who meet all of the following criteria are studied:\n\n  - age 18 to 50\n\n"
        "  - regular menses\n\nWomen with recurrent brief depression are also studied if they have:\n\n"
        "  - dysphoric mood\n\nHealthy women will be recruited as controls."
    )
    assert split(groups).inclusion == [
        "Women who meet all of the following criteria are studied:\n- age 18 to 50\n- regular menses",
        "Women with recurrent brief depression are also studied if they have:\n- dysphoric mood",
        "Healthy women will be recruited as controls.",
    ]
    lead_in = (
        "Inclusion Criteria:\n\nSubjects must meet all of the following at screening:\n\n  - Adults\n\n  - Consent"
    )
    assert split(lead_in).inclusion == ["Adults", "Consent"]


def test_withdrawal_criteria_are_neither_kind() -> None:
    for heading in ("Elimination criteria:", "Withdrawal Criteria", "Discontinuation criteria:", "Removal criteria:"):
        block = f"Inclusion Criteria:\nAdults\n\nExclusion Criteria:\nPregnancy\n\n{heading}\n\nConsent withdrawn"
        assert split(block) == (["Adults"], ["Pregnancy"], None), heading


def test_a_short_description_before_both_headings_is_not_criteria() -> None:
    block = (
        "A small controlled trial of a biologic in COVID-19.\n20 moderate COVID-19 patients\n\n"
        "Inclusion Criteria:\n\nModerate COVID-19\nPositive PCR test\n\nExclusion Criteria:\n\n1. Pregnancy"
    )
    assert split(block) == (["Moderate COVID-19", "Positive PCR test"], ["Pregnancy"], None)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (  # a second set of criteria, introduced by a sentence, after the exclusion criteria
            "Inclusion Criteria:\n- Adults\n\nExclusion Criteria:\n- Pregnancy\n\n"
            "Eligibility criteria for the secondary randomisation Inclusion criteria\n- On treatment",
            "several eligibility sets",
        ),
        (  # a heading wrapped into the item above it
            "Inclusion Criteria:\n\n  1. Adults\n\n  2. Consent\n\n     Exclusion criteria\n\n  3. Pregnancy",
            "inside a list item",
        ),
        (  # after non-inclusion criteria, 'exclusion criteria' take participants out of the study
            "Inclusion criteria:\nAdults\n\nNon-inclusion criteria:\nPregnancy\n\nExclusion criteria:\nWithdrew",
            "withdrawal",
        ),
        ("Exclusion Criteria:\n1. Pregnancy\n2. Allergy: 3) any\n1. Dementia", "starts again"),
    ],
)
def test_structure_too_unclear_to_split(block: str, problem: str) -> None:
    found = split(block)
    assert found.inclusion == found.exclusion == []
    assert problem in found.problem


def test_enrich_fills_the_lists_unless_the_reader_gave_them() -> None:
    fields = {"eligibility": {"criteria": "Inclusion Criteria:\n* Adults\n\nExclusion Criteria:\n* Pregnancy"}}
    eligibility = enrich(fields)["eligibility"]
    assert (eligibility["inclusion"], eligibility["exclusion"]) == (["Adults"], ["Pregnancy"])
    given = {"eligibility": {"criteria": "Inclusion Criteria:\n* Adults", "inclusion": ["Kept"], "exclusion": []}}
    assert enrich(given)["eligibility"]["inclusion"] == ["Kept"]


def test_enrich_reports_a_block_it_cannot_split() -> None:
    fields = enrich({"eligibility": {"criteria": "DISEASE CHARACTERISTICS:\n- Stage IV"}, "diagnostics": []})
    assert fields["eligibility"]["inclusion"] == fields["eligibility"]["exclusion"] == []
    assert fields["diagnostics"] == [
        {
            "level": "warning",
            "code": "criteria-unsplit",
            "field": "eligibility.criteria",
            "message": "no inclusion or exclusion heading",
        }
    ]


# --- the real records --------------------------------------------------------------------------------------

_HEADING = re.compile(
    r"(?i)^[-*• ]*(?:(?:(?!do\b|not\b|no\b|meet\b)\S+\s+){0,4}(?:non[- ]?)?(?:inclusion|exclusion)(?:\s+criteria)?"
    r"\s*(?:\(.*\)|(?:for|by|stage|comments)\b.*|[-–]\s.*|\d+)?\s*(?::.*following.*)?:?"
    r"|eligibility criteria\b.*\b(?:inclusion|exclusion) criteria:?)$"
)
_MARKERS = re.compile(r"^(?:[-*•●+o]\s*|\(?\w{1,4} ?[.)、]\s*)+")
_KIND = re.compile(r"(?i)^[-*• ]*(?:\S+\s+){0,4}(?:non[- ]?)?(?:inclusion|exclusion)\b")
_OTHER_KIND = re.compile(r"(?i)^\s*(?:\S+\s+){0,3}(?:withdrawal|discontinuation|elimination|removal) criteria\b")


def _records() -> list:
    return [
        t for t in pipeline.trials([CTGOV, CTGOV.parent / "legacy-csv"]) if t.eligibility and t.eligibility.criteria
    ]


@pytest.fixture(scope="module")
def records() -> list:
    return _records()


def _words(text: str) -> str:
    return " ".join(_MARKERS.sub("", line.strip()) for line in text.split("\n")).split().__str__()


def test_share_of_real_records_split(records: list) -> None:
    by_format: dict[str, list[int]] = {}
    for trial in records:
        counts = by_format.setdefault(trial.source.format, [0, 0])
        counts[1] += 1
        counts[0] += bool(trial.eligibility.inclusion or trial.eligibility.exclusion)
    split_share = sum(c[0] for c in by_format.values()) / sum(c[1] for c in by_format.values())
    print({name: f"{done}/{total}" for name, (done, total) in by_format.items()}, f"{split_share:.1%}")
    assert len(records) > 350
    assert split_share >= 0.95


def test_real_items_are_not_headings_nor_empty_and_nothing_is_lost(records: list) -> None:
    for trial in records:
        eligibility = trial.eligibility
        items = eligibility.inclusion + eligibility.exclusion
        problems = [d for d in trial.diagnostics if d.code == "criteria-unsplit"]
        assert bool(items) != bool(problems) or (not items and not problems), trial.id
        joined = " ".join(
            " ".join(_MARKERS.sub("", line.strip()).split()) for item in items for line in item.split("\n")
        )
        for item in items:
            assert item.strip(), trial.id
            first = item.split("\n")[0]
            assert not _HEADING.match(first) or first.endswith(".") or len(first) > 120, (trial.id, item)
        if not items:
            continue
        collected = False  # text before the first heading (a description) and withdrawal criteria stay in the block
        for line in eligibility.criteria.split("\n"):
            if _OTHER_KIND.match(line):
                collected = False
            elif _KIND.match(line) and len(line) < 200:
                collected = True
            if not collected:
                continue
            if re.match(r"(?i)\s*(?:notes?\b|n\.b\.|the information listed above|for more information)", line):
                continue  # notes stay only in the block
            line = re.sub(r"(?i)^\s*(?:inclusion|exclusion) criteria:(?!.*following)", "", line)
            text = " ".join(_MARKERS.sub("", line.strip()).split())
            if not text or _HEADING.match(line.strip()) or text.endswith(":"):
                continue
            if len(text.split()) <= 5 and text[-1] not in ".;,)":
                continue  # a part's name ("Group 1", "Cohort A")
            assert text in joined, (trial.id, text)


def test_the_fast_reading_agrees_with_the_line_by_line_reading(records: list) -> None:
    from trialport.mapping.criteria import _split_lines, _usual

    read_fast = 0
    for trial in records:
        fast = _usual(trial.eligibility.criteria)
        if fast is not None:
            read_fast += 1
            assert fast == _split_lines(trial.eligibility.criteria), trial.id
    assert read_fast > len(records) // 2


def test_the_compiled_split_gives_the_python_split_s_items(records: list) -> None:
    """The install compiles the module with Cython where a C compiler is present; it must read every real
    block exactly as the Python module does."""
    from trialport.mapping import criteria

    if not criteria.COMPILED:
        tool_missing("the criteria splitter compiled at install time (Cython and a C compiler)")
    assert criteria.split.__module__ == "trialport.mapping._criteria_compiled"
    for trial in records:
        block = trial.eligibility.criteria
        found = criteria.split(block)
        assert found == criteria.python_split(block), trial.id
        assert isinstance(found, criteria.Criteria)


def test_an_edited_module_never_runs_its_stale_compiled_copy(tmp_path, monkeypatch) -> None:
    from trialport.mapping import criteria

    edited = tmp_path / "criteria.py"
    edited.write_text(Path(criteria.__file__).read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(criteria, "__file__", str(edited))
    assert criteria._compiled() is None


def _v2(nct: str) -> str:
    studies = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))
    study = next(s for s in studies if s["protocolSection"]["identificationModule"]["nctId"] == nct)
    return study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]


def test_real_v2_record_with_numbered_sub_lists(records: list) -> None:
    trial = next(t for t in records if t.id == "NCT06097962" and t.source.format == "ctgov-v2")
    assert "* The virological examination" in _v2("NCT06097962")  # the raw block: '*' items, '1.' sub-items
    assert trial.eligibility.inclusion[:2] == [
        "age≥18 years;",
        "Epidermal growth factor receptor (EGFR) gene mutation negative, ROS oncogene 1 (ROS1) negative, and "
        "anaplastic lymphoma kinase (ALK) negative, stage III or IV non-small cell lung cancer that cannot be operated "
        "on or treated with radiotherapy, locally advanced or relapsed or metastatic non-small cell lung cancer;",
    ]
    assert len(trial.eligibility.inclusion) == 10
    assert trial.eligibility.exclusion[12:15] == [
        "The virological examination of hepatitis B or hepatitis C during screening meets any of the following "
        "criteria:\n- HBsAg positive and peripheral blood HBV-DNA titer detection≥1×10^3 copies/mL or upper limit "
        "of normal value;\n- HCV antibody positive;",
        "Subjects who are known to be allergic or intolerant to PD-1 monoclonal antibody.",
        "Meet any of the following standards:\n"
        "- Hematological:Neutrophil count <1.5×10^9/L; Platelet count < 75×10^9/L; Hemoglobin < 9 g/dL;\n"
        "- Hepatic:ALT > 3 × ULN (tumor liver metastasis ≥ 5×ULN); AST > 3×ULN (tumor liver metastasis ≥ 5×ULN); "
        "TBIL > 1.5 ×ULN or TBIL>2.5 × ULN (3.0 mg/dL) in Gilbert syndrome subjects;\n"
        "- Renal:Serum creatinine > 1.5 × ULN or creatinine clearance < 50mL/min;",
    ]
    assert len(trial.eligibility.exclusion) == 17


def test_real_classic_record_without_markers(records: list) -> None:
    trial = next(t for t in records if t.id == "NCT04595136")
    assert trial.eligibility.inclusion == [
        "Provide written consent before being included in the essay.",
        "Positive cases of COVID-19 (based on polymerase chain reaction or positive antigen test for SARS-CoV-2),",
        "Being diagnosed with mild to moderate SARS-COV-2 disease (COVID19)",
        "Symptomatic or asymptomatic patient, with good clinical appearance, Sat O2 at rest > 94% with room air, "
        "and without desaturation with ambulation, and without tachypnea,",
        "Respiratory rate < 20.",
        "Suspected cases of COVID-19, based on 3 criteria:\n- Fever > 38 Degrees Celsius\n- O2 saturation ≤94",
        "Abnormal laboratory indicators, any of them:\n- Lymphopenia <1500 cells/m3\n- C reactive protein >2 mg/L"
        "\n- Ferritin >300g/L",
    ]
    assert trial.eligibility.exclusion[0].startswith("Existing decompensated conditions such as Diabetes Mellitus")
    assert trial.eligibility.exclusion[-1] == (
        "Patients who are unable to give consent or who are unable to follow up on the test group will be excluded"
    )
    assert len(trial.eligibility.exclusion) == 9


def test_real_legacy_xml_block_with_hard_wraps_and_indented_sub_items() -> None:
    root = ET.parse(CTGOV / "aact-fixtures" / "legacy-xml" / "NCT01065844.xml").getroot()
    found = split(root.find("eligibility/criteria/textblock").text)
    assert found.problem is None
    assert found.inclusion[1] == (
        "Cancer should be staged recurrent or end-stage with/without metastases who have failed all other therapy."
    )
    assert found.inclusion[4] == (
        "Patients must have normal organ and marrow function as defined below:\n"
        "- leukocytes ≥ 3,000/mm3\n- absolute neutrophil count ≥ 1,500/mm3\n- platelets ≥ 100,000/mm3\n"
        "- total bilirubin < 1.5 mg/dl OR a stable or a decreasing bilirubin in patients who have undergone "
        "placement of an intrabiliary stent\n"
        "- AST(SGOT) ≤ 2.5 X institutional upper limit of normal\n- ALT(SGPT) ≤ 2.5 X institutional upper limit "
        "of normal\n- creatinine < 1.5 X institutional upper limit of normal OR creatinine clearance ≥ 60 "
        "mL/min/1.73 m2 for patients with creatinine levels above institutional normal."
    )
    assert found.inclusion[5] == (
        "No known HIV infection. Since NFV is used in HIV patients, we do not want to interfere with the therapy "
        "the patient may already be on."
    )
    assert len(found.inclusion) == 8
    assert found.exclusion[:3] == [
        "History of allergic reactions attributed to compounds of similar chemical or biologic composition to NFV.",
        "Uncontrolled diabetes.",
        "Hemophilia A & B as increased bleeding during protease inhibitor therapy has been reported (22).",
    ]
