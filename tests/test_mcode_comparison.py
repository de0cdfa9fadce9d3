"""trialport's FHIR export beside the converter hospitals use for trial matching today, the mCODE project's
``createResearchStudyFromClinicalStudy`` (npm clinical-trial-matching-service 0.1.2), on the same 100 API v2
records: for every element mCODE writes, trialport holds, study by study, every value mCODE holds (the
mapping between the two shapes: tests/mcode.py). The table goes to benchmarks/mcode-coverage.md."""

from __future__ import annotations

import json

import pytest
from conftest import CTGOV, ROOT
from mcode import ELEMENTS, McodeStudy, OurStudy, coverage, load_ndjson, markdown, run_mcode

from trialport import pipeline

pytestmark = pytest.mark.slow  # installs the mCODE converter's npm packages on first use

NSCLC = CTGOV / "nsclc-v2-json" / "ctg-studies.json"
VERSION = "R4"  # what the mCODE converter writes
TABLE = ROOT / "benchmarks" / "mcode-coverage.md"


@pytest.fixture(scope="module")
def mcode(tmp_path_factory):
    studies = json.loads(NSCLC.read_text(encoding="utf-8"))
    return run_mcode(studies, tmp_path_factory.mktemp("mcode"))


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    out = tmp_path_factory.mktemp("trialport")
    report = pipeline.convert([NSCLC], out, ["fhir"], options={"fhir_version": VERSION, "fhir_outputs": ["ndjson"]})
    assert report.totals()["converted"] == 100
    return load_ndjson(out / "fhir" / VERSION)


@pytest.fixture(scope="module")
def rows(mcode, ours):
    return {row.element.path: row for row in coverage(mcode, ours)}


def test_the_mcode_converter_writes_what_the_registry_holds(mcode):
    # counted in the raw file: 87 studies list 959 sites, every one with city and country, 941 with a
    # geoPoint; their contacts give 65 phone numbers and 83 e-mail addresses; 51 studies have 71 central
    # contacts (all named); every study has eligibility criteria
    assert len(mcode) == 100
    locations = [r for s in mcode.values() for r in s.get("contained", []) if r["resourceType"] == "Location"]
    assert sum("site" in s for s in mcode.values()) == 87
    assert len(locations) == 959
    assert sum("address" in x for x in locations) == 959
    assert sum("position" in x for x in locations) == 941
    telecom = [t["system"] for x in locations for t in x.get("telecom", [])]
    assert (telecom.count("phone"), telecom.count("email")) == (65, 83)
    assert sum("contact" in s for s in mcode.values()) == 51
    assert sum(len(s.get("contact", [])) for s in mcode.values()) == 71
    assert sum(bool(s.get("enrollment", [{}])[0].get("display")) for s in mcode.values()) == 100


def test_where_mcode_is_wrong_trialport_need_not_follow(mcode, ours):
    # NCT02369484 is COMPLETED (statusModule.overallStatus) and has no lastKnownStatus: mCODE, which reads
    # lastKnownStatus, leaves its default "active"
    assert mcode["NCT02369484"]["status"] == "active"
    assert ours["ResearchStudy/NCT02369484"]["status"] == "completed"
    # NCT04646330 is PHASE1, PHASE2: mCODE keeps only the first
    assert mcode["NCT04646330"]["phase"]["coding"][0]["code"] == "phase-1"
    assert ours["ResearchStudy/NCT04646330"]["phase"]["coding"][0]["code"] == "phase-1-phase-2"


def test_sites_and_contacts_value_by_value(mcode, ours):
    """Two studies read by hand in the raw file, through the mapping, on both sides."""
    element = {e.path: e for e in ELEMENTS}

    def both(nct: str, path: str) -> tuple[set, set]:
        m, o = McodeStudy(mcode[nct]), OurStudy(ours[f"ResearchStudy/{nct}"], ours)
        return element[path].mcode(m), element[path].trialport(o)

    # NCT06576635: one site; its two contacts' phones as the site writes them, the central contacts'
    # phones written otherwise ("(312) 413-7494")
    uic = ("University of Illinois Cancer Center", "Chicago")
    site = {(*uic, "Illinois", "60612", "United States", 41.85003, -87.65005)}
    assert both("NCT06576635", "ResearchStudy.site") == (site, site)
    phones = {(*uic, "312-413-7494"), (*uic, "(312) 355-2545")}
    assert both("NCT06576635", "Location.telecom (phone)") == (phones, phones)
    emails = {(*uic, "fweinb1@uic.edu"), (*uic, "ryin6@uic.edu")}
    assert both("NCT06576635", "Location.telecom (email)") == (emails, emails)
    central = {("Frank Weinberg, MD, PhD", "(312) 413-7494"), ("Ruihong Yin", "(312) 355-2545")}
    assert both("NCT06576635", "ResearchStudy.contact.telecom (phone)") == (central, central)
    # NCT05701787 lists the same site twice, the second contact's phone with extension 3708: mCODE drops it
    niu = ("Xiaomin Niu", "Shanghai")
    theirs, held = both("NCT05701787", "Location.telecom (phone)")
    assert theirs == {(*niu, "021-22200000"), (*niu, "86 21 2220 0000")}
    assert held == {(*niu, "021-22200000"), (*niu, "86 21 2220 0000 ext. 3708")}


def test_interventions_value_by_value(mcode, ours):
    """Two studies read by hand in the raw file: NCT04811001 gives Osimertinib (other name Tagrisso) and
    Dacomitinib (Vizimpro) in both its arms; NCT05798663 gives Atezolizumab (other names Tecentriq, L01XC32)
    in Arms A, B and C, Tiragolumab (none) in Arms B and C."""
    element = {e.path: e for e in ELEMENTS}

    def both(nct: str, name: str) -> tuple[set, set]:
        m, o = McodeStudy(mcode[nct]), OurStudy(ours[f"ResearchStudy/{nct}"], ours)
        path = f"PlanDefinition.{name} (ResearchStudy.protocol)"
        return element[path].mcode(m), element[path].trialport(o)

    arms = ("Arm A (Osimertinib->Dacomitinib)", "Arm B (Dacomitinib->Osimertinib)")
    given = {(drug, arm) for drug in ("Osimertinib", "Dacomitinib") for arm in arms}
    assert both("NCT04811001", "subjectCodeableConcept") == (given, given)
    other_names = {("Osimertinib", "Tagrisso"), ("Dacomitinib", "Vizimpro")}
    assert both("NCT04811001", "subtitle") == (other_names, other_names)
    descriptions = {
        ("Osimertinib", "TAGRISSO 40 mg film-coated tablets TAGRISSO 80 mg film-coated tablets"),
        (
            "Dacomitinib",
            "Vizimpro 15 mg film-coated tablets Vizimpro 30 mg film-coated tablets Vizimpro 45 mg film-coated tablets",
        ),
    }
    assert both("NCT04811001", "description") == (descriptions, descriptions)
    assert both("NCT04811001", "type") == ({("Osimertinib", "DRUG"), ("Dacomitinib", "DRUG")},) * 2
    # mCODE keeps the first other name only; trialport every one
    theirs, held = both("NCT05798663", "subtitle")
    assert theirs == {("Atezolizumab", "Tecentriq")}
    assert held == {("Atezolizumab", "Tecentriq"), ("Atezolizumab", "L01XC32")}
    arms = {
        ("Atezolizumab", "Arm A: Atezolizumab"),
        ("Atezolizumab", "Arm B: Atezolizumab and Tiragolumab"),
        ("Atezolizumab", "Arm C: Atezolizumab and Tiragolumab"),
        ("Tiragolumab", "Arm B: Atezolizumab and Tiragolumab"),
        ("Tiragolumab", "Arm C: Atezolizumab and Tiragolumab"),
    }
    assert both("NCT05798663", "subjectCodeableConcept") == (arms, arms)


def test_coverage_table(rows):
    """Written to benchmarks/mcode-coverage.md; the registry's counts (see the test above) on both sides."""
    table = markdown(list(rows.values()), VERSION)
    TABLE.write_text(table, encoding="utf-8")
    print("\n" + table)
    assert len(rows) == len(ELEMENTS)
    site = rows["ResearchStudy.site"]
    assert (site.studies_mcode, site.studies_ours) == (87, 87)
    contact = rows["ResearchStudy.contact.name"]
    assert (contact.studies_mcode, contact.studies_ours) == (51, 51)
    eligibility = rows["ResearchStudy.enrollment"]
    assert (eligibility.studies_mcode, eligibility.studies_ours) == (100, 100)
    # 87 studies list interventions; 83 describe one, 36 give other names, 85 name the arms giving one
    for name, studies in (("title", 87), ("description", 83), ("subtitle", 36), ("subjectCodeableConcept", 85)):
        plans = rows[f"PlanDefinition.{name} (ResearchStudy.protocol)"]
        assert (plans.studies_mcode, plans.studies_ours) == (studies, studies), name


@pytest.mark.parametrize("path", [e.path for e in ELEMENTS if e.required])
def test_trialport_holds_every_value_mcode_holds(rows, path):
    row = rows[path]
    missing = {nct: sorted(map(str, values))[:3] for nct, values in list(row.missing.items())[:3]}
    assert row.missing == {}, (
        f"{len(row.missing)} studies lack mCODE's {path} in trialport ({row.element.ours}), e.g. {missing}"
    )
