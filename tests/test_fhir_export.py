"""FHIR export: every real record's resources valid in R5, R4B and R4, the file layout, and the mapping of
studies, sites, people, references, eligibility and interventions, checked against the raw registry records."""

from __future__ import annotations

import hashlib
import json
import re

import orjson
import pytest
from conftest import CTGOV, SEEDS, v2_studies

from trialport import pipeline
from trialport.fhir.build import organization_id, resources
from trialport.fhir.codes import (
    ELIGIBILITY_CHARACTERISTIC_SYSTEM,
    ELIGIBILITY_CRITERIA_EXTENSION,
    INTERVENTION_ARM_EXTENSION,
    INTERVENTION_OTHER_NAME_EXTENSION,
    ISO3166_SYSTEM,
    LOCATION_ID_SYSTEM,
    NCT_SYSTEM,
    PARTY_ROLE_SYSTEM,
    PLAN_ID_SYSTEM,
    RECRUITMENT_STATUS_SYSTEM,
    REFERENCE_TYPE_EXTENSION,
    REFERENCE_TYPE_SYSTEM,
    SITE_POSTAL_CODE_EXTENSION,
    SITE_STATUS_EXTENSION,
    TIME_FRAME_EXTENSION,
    XVER,
)
from trialport.fhir.validate import problems
from trialport.model import Trial
from trialport.record import convert_record

VERSIONS = ("R5", "R4B", "R4")
KINDS = ("ResearchStudy", "Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition")


def design_id(prefix: str, *parts: str | None) -> str:
    """An id as the design defines it: sha256 of the parts, each case folded with runs of non-word
    characters made one space, joined by "|"."""
    key = "|".join(re.sub(r"\W+", " ", (p or "").casefold()).strip() for p in parts)
    return prefix + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@pytest.fixture(scope="module")
def trials() -> list[Trial]:
    return [r.result for r in pipeline.read([CTGOV, SEEDS]) if isinstance(r.result, Trial)]


def trial_of(trials: list[Trial], nct: str) -> Trial:
    return next(t for t in trials if t.id == nct and t.source.format == "ctgov-v2")


def by_type(found: list[dict], kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in found if r["resourceType"] == kind}


@pytest.fixture(scope="module")
def nsclc(tmp_path_factory):
    """The 100 NSCLC API v2 studies exported in every version."""
    out = tmp_path_factory.mktemp("nsclc")
    report = pipeline.convert([CTGOV / "nsclc-v2-json"], out, ["fhir"], options={"fhir_version": "all"})
    assert report.exit_code == 0
    return out / "fhir"


def ndjson(folder, kind: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{kind}.ndjson").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_from_real_records_is_valid(trials, version):
    """R4 is checked with fhir.resources' R4B models (the same elements; FHIR.js checks 4.0.1 in tests/node)."""
    checked, kinds = 0, set()
    for trial in trials:
        found = resources(trial, version)
        assert len({(r["resourceType"], r["id"]) for r in found}) == len(found), trial.id  # each once per study
        for resource in found:
            assert problems(resource, version) == [], (trial.id, resource["resourceType"], resource["id"])
            kinds.add(resource["resourceType"])
            checked += 1
    assert kinds == set(KINDS)
    assert checked > 10000


def test_r4_is_the_r4b_shape(trials):
    for trial in trials[::25]:
        assert resources(trial, "R4") == resources(trial, "R4B"), trial.id


def test_r5_mapping_of_a_withdrawn_study(trials):
    trial = trial_of(trials, "NCT00973089")
    study, *referenced = resources(trial, "R5")
    assert study["id"] == "NCT00973089"
    assert study["identifier"][0] == {"value": "NCT00973089", "system": NCT_SYSTEM, "use": "official"}
    assert study["phase"]["coding"] == [{"system": "http://hl7.org/fhir/research-study-phase", "code": "n-a"}]
    assert study["progressStatus"][0]["state"]["coding"][0]["code"] == "withdrawn"
    assert study["whyStopped"] == {
        "text": "recruiting or enrolling participants has halted prematurely and will not resume"
    }
    assert study["recruitment"]["actualNumber"] == 0
    assert study["period"] == {"start": "2010-05", "end": "2015-03"}
    sponsor_id = organization_id("Hadassah Medical Organization")
    sponsor = by_type(referenced, "Organization")[sponsor_id]
    assert study["associatedParty"][0] == {
        "name": "Hadassah Medical Organization",
        "role": {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": "lead-sponsor"}]},
        "party": {"reference": f"Organization/{sponsor_id}", "display": "Hadassah Medical Organization"},
    }
    assert sponsor["name"] == "Hadassah Medical Organization" and sponsor["active"] is True
    assert [g["name"] for g in study["comparisonGroup"]] == ["Complete caries removal", "Incomplete caries removal"]
    (outcome,) = study["outcomeMeasure"]
    assert outcome["name"] == "The success of the alternative treatment of the deep carious lesion."
    assert outcome["type"][0]["coding"][0]["code"] == "primary"
    assert outcome["extension"] == [{"url": TIME_FRAME_EXTENSION, "valueString": "Half annually for three years"}]
    assert study["condition"][0]["text"] == "Caries, Dental"
    # the PMID of its one reference (BACKGROUND), as the PubMed page
    (artifact,) = study["relatedArtifact"]
    assert artifact["type"] == "citation" and artifact["document"] == {
        "url": "https://pubmed.ncbi.nlm.nih.gov/18519994/"
    }
    assert artifact["classifier"][0]["coding"][0]["code"] == "BACKGROUND"
    assert artifact["citation"].startswith("Thompson V, Craig RG, Curro FA, Green WS, Ship JA. Treatment")


def test_r4_carries_outcomes_and_summary_in_cross_version_extensions(trials):
    for trial in trials:
        (study, *_) = resources(trial, "R4")
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


def test_sites_of_a_v2_study_are_locations_with_stable_ids(trials):
    # NCT03318939: 63 sites; the first is Mayo Clinic Hospital, Phoenix, Arizona 85054, United States, at
    # 33.44838, -112.07404, with no site status in the registry record
    trial = trial_of(trials, "NCT03318939")
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        locations = by_type(referenced, "Location")
        assert len(study["site"]) == 63
        mayo = design_id("loc-", "Mayo Clinic Hospital", "Phoenix", "Arizona", "United States")
        assert study["site"][0] == {
            "extension": [{"url": SITE_POSTAL_CODE_EXTENSION, "valueString": "85054"}],
            "reference": f"Location/{mayo}",
            "display": "Mayo Clinic Hospital",
        }
        assert locations[mayo] == {
            "resourceType": "Location",
            "id": mayo,
            "identifier": [{"system": LOCATION_ID_SYSTEM, "value": mayo}],
            "status": "active",
            "name": "Mayo Clinic Hospital",
            "mode": "instance",
            "address": {"city": "Phoenix", "state": "Arizona", "postalCode": "85054", "country": "United States"},
            "position": {"longitude": -112.07404, "latitude": 33.44838},
        }
        # Rabin Medical Center, Petah Tikva, Israel: no state, no postal code in this record
        rabin = design_id("loc-", "Rabin Medical Center", "Petah Tikva", None, "Israel")
        (site,) = [s for s in study["site"] if s["reference"] == f"Location/{rabin}"]
        assert site == {"reference": f"Location/{rabin}", "display": "Rabin Medical Center"}
        assert {s["reference"] for s in study["site"]} == {f"Location/{i}" for i in locations}


def test_the_site_status_is_the_studys_own(trials):
    # NCT06823401 lists Istituto Tumori Regina Elena, Roma, RM, Italy twice: ENROLLING_BY_INVITATION (zip
    # 000144) and RECRUITING (zip 00128): one Location, two sites with their own status and postal code
    trial = trial_of(trials, "NCT06823401")
    place = design_id("loc-", "Istituto Tumori Regina Elena", "Roma", "RM", "Italy")
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        assert list(by_type(referenced, "Location")) == [place]
        assert [s["reference"] for s in study["site"]] == [f"Location/{place}"] * 2
        statuses = [
            [e["valueCoding"] for e in s["extension"] if e["url"] == SITE_STATUS_EXTENSION] for s in study["site"]
        ]
        assert statuses == [
            [
                {
                    "system": RECRUITMENT_STATUS_SYSTEM,
                    "code": "ENROLLING_BY_INVITATION",
                    "display": "Enrolling by invitation",
                }
            ],
            [{"system": RECRUITMENT_STATUS_SYSTEM, "code": "RECRUITING", "display": "Recruiting"}],
        ]
        postal = [
            [e["valueString"] for e in s["extension"] if e["url"] == SITE_POSTAL_CODE_EXTENSION] for s in study["site"]
        ]
        assert postal == [["000144"], ["00128"]]


def parties(study: dict, version: str) -> list[dict]:
    """associatedParty in the R5 shape, from R5 or from R4's cross-version extension."""
    if version == "R5":
        return study["associatedParty"]
    found = []
    for extension in study["extension"]:
        if extension["url"] == XVER + "associatedParty":
            party = {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in extension["extension"]}
            found.append({"id": extension.get("id"), **party})
    return found


def test_an_officials_practitioner_role_has_the_organization(trials):
    # NCT04764188: overall official "Clinical Trials", Hoffmann-LaRoche, STUDY_DIRECTOR
    trial = trial_of(trials, "NCT04764188")
    roche = organization_id("Hoffmann-LaRoche")
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        (official,) = [p for p in parties(study, version) if (p.get("id") or "").startswith("official-")]
        assert official["name"] == "Clinical Trials"
        assert official["role"] == {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": "study-director"}]}
        role = by_type(referenced, "PractitionerRole")[official["party"]["reference"].split("/")[1]]
        assert role["organization"] == {"reference": f"Organization/{roche}", "display": "Hoffmann-LaRoche"}
        assert role["code"] == [{"text": "STUDY_DIRECTOR"}]
        assert "location" not in role and "telecom" not in role and "contact" not in role
        assert by_type(referenced, "Organization")[roche]["name"] == "Hoffmann-LaRoche"
        person = by_type(referenced, "Practitioner")[role["practitioner"]["reference"].split("/")[1]]
        assert person["name"] == [{"text": "Clinical Trials"}]
        assert "principalInvestigator" not in study  # a study director, not a principal investigator


def test_the_principal_investigator_in_r4(trials):
    # NCT06823401: Federico FC Cappuzzo, PI, IRCCS Ist. Naz. Tum. Regina Elena, PRINCIPAL_INVESTIGATOR; he is
    # also the first central contact (+390544285206, federico.cappuzzo@ifo.it)
    trial = trial_of(trials, "NCT06823401")
    study, *referenced = resources(trial, "R4")
    role = by_type(referenced, "PractitionerRole")[study["principalInvestigator"]["reference"].split("/")[1]]
    assert role["code"] == [{"text": "PRINCIPAL_INVESTIGATOR"}]
    assert role["organization"]["display"] == "IRCCS Ist. Naz. Tum. Regina Elena"
    assert study["contact"][0] == {
        "name": "Federico FC Cappuzzo, PI",
        "telecom": [
            {"system": "phone", "value": "+390544285206", "use": "work"},
            {"system": "email", "value": "federico.cappuzzo@ifo.it", "use": "work"},
        ],
    }
    assert len(study["contact"]) == 2


def test_a_site_contacts_phone_and_email_are_on_the_practitioner_role(trials):
    # NCT06823401, second site: Grisel GM Maver Militello, Monitor, CONTACT, 0652662724,
    # grisel.mavermilitello@ifo.it; and Lorenza LL Landi, Dott.ssa, SUB_INVESTIGATOR, no phone or email
    trial = trial_of(trials, "NCT06823401")
    place = design_id("loc-", "Istituto Tumori Regina Elena", "Roma", "RM", "Italy")
    telecom = [
        {"system": "phone", "value": "0652662724", "use": "work"},
        {"system": "email", "value": "grisel.mavermilitello@ifo.it", "use": "work"},
    ]
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        site_people = [p for p in parties(study, version) if (p.get("id") or "").startswith("site-")]
        assert [(p["id"], p["name"]) for p in site_people] == [
            ("site-2-contact-1", "Grisel GM Maver Militello, Monitor"),
            ("site-2-contact-2", "Raffaella RV Veneziano, S.C"),
            ("site-2-contact-3", "Lorenza LL Landi, Dott.ssa"),
        ]
        assert [p["role"]["coding"][0]["code"] for p in site_people] == [
            "recruitment-contact",
            "recruitment-contact",
            "sub-investigator",
        ]
        roles = by_type(referenced, "PractitionerRole")
        grisel = roles[site_people[0]["party"]["reference"].split("/")[1]]
        assert grisel["location"] == [{"reference": f"Location/{place}"}]
        assert grisel["code"] == [{"text": "CONTACT"}]
        assert (grisel["contact"] == [{"telecom": telecom}]) if version == "R5" else (grisel["telecom"] == telecom)
        landi = roles[site_people[2]["party"]["reference"].split("/")[1]]
        assert landi["code"] == [{"text": "SUB_INVESTIGATOR"}] and "telecom" not in landi and "contact" not in landi


def test_a_phone_extension_stays_with_the_phone(trials):
    # NCT05701787, second site's contact: phone "86 21 2220 0000", phoneExt "3708"
    trial = trial_of(trials, "NCT05701787")
    study, *referenced = resources(trial, "R4B")
    (party,) = [p for p in parties(study, "R4B") if p["id"] == "site-2-contact-1"]
    role = by_type(referenced, "PractitionerRole")[party["party"]["reference"].split("/")[1]]
    assert role["telecom"][0] == {"system": "phone", "value": "86 21 2220 0000 ext. 3708", "use": "work"}


def test_references_and_links_are_related_artifacts(trials):
    # NCT02369484: three BACKGROUND references (PMIDs 23610105, 22325357, 21353324) and one link,
    # "Sponsor" http://www.etop-eu.org/
    trial = trial_of(trials, "NCT02369484")
    r5 = resources(trial, "R5")[0]["relatedArtifact"]
    r4 = resources(trial, "R4")[0]["relatedArtifact"]
    pmids = ["23610105", "22325357", "21353324"]
    assert [a["document"]["url"] for a in r5[:3]] == [f"https://pubmed.ncbi.nlm.nih.gov/{p}/" for p in pmids]
    assert [a["url"] for a in r4[:3]] == [f"https://pubmed.ncbi.nlm.nih.gov/{p}/" for p in pmids]
    background = {"system": REFERENCE_TYPE_SYSTEM, "code": "BACKGROUND", "display": "Background"}
    assert r5[0]["classifier"] == [{"coding": [background]}]
    assert r4[0]["extension"] == [{"url": REFERENCE_TYPE_EXTENSION, "valueCoding": background}]
    assert r4[1]["citation"].startswith("De Greve J, Teugels E, Geers C, Decoster L")
    assert r5[3] == {"type": "documentation", "display": "Sponsor", "document": {"url": "http://www.etop-eu.org/"}}
    assert r4[3] == {"type": "documentation", "display": "Sponsor", "url": "http://www.etop-eu.org/"}


def test_why_a_terminated_study_stopped(trials):
    # NCT04402008: TERMINATED, whyStopped "Business decision, not related to safety."
    trial = trial_of(trials, "NCT04402008")
    assert resources(trial, "R5")[0]["whyStopped"] == {"text": "Business decision, not related to safety."}
    for version in ("R4B", "R4"):
        study = resources(trial, version)[0]
        assert study["reasonStopped"] == {"text": "Business decision, not related to safety."}
        assert study["status"] == "administratively-completed"


def test_site_countries_are_iso_3166_regions(trials):
    # NCT04764188 has sites in 25 countries, among them "Russia", "Turkey (Türkiye)", "Czechia", "Vietnam"
    trial = trial_of(trials, "NCT04764188")
    r5 = resources(trial, "R5")[0]["region"]
    assert resources(trial, "R4")[0]["location"] == r5
    assert len(r5) == 25 and all(c["coding"][0]["system"] == ISO3166_SYSTEM for c in r5)
    codes = {c["text"]: c["coding"][0]["code"] for c in r5}
    assert {name: codes[name] for name in ("Russia", "Turkey (Türkiye)", "Czechia", "Vietnam", "Israel")} == {
        "Russia": "RU",
        "Turkey (Türkiye)": "TR",
        "Czechia": "CZ",
        "Vietnam": "VN",
        "Israel": "IL",
    }
    # NCT02552212 (an AACT v2 file): "Russian Federation", "Taiwan"
    names = {c["text"]: c["coding"][0] for c in resources(trial_of(trials, "NCT02552212"), "R5")[0]["region"]}
    assert names["Russian Federation"]["code"] == "RU"
    assert names["Taiwan"] == {"system": ISO3166_SYSTEM, "code": "TW", "display": "Taiwan, Province of China"}


def test_a_country_without_an_iso_code_keeps_its_text(trials):
    # NCT01076361 (legacy XML) has a site in Belgrade, "Former Serbia and Montenegro": no current code
    trial = next(t for t in trials if t.id == "NCT01076361" and t.source.format == "ctgov-xml")
    regions = resources(trial, "R5")[0]["region"]
    assert {"text": "Former Serbia and Montenegro"} in regions
    assert {"coding": [{"system": ISO3166_SYSTEM, "code": "DK", "display": "Denmark"}], "text": "Denmark"} in regions


def test_the_eligibility_group(trials):
    trial = trial_of(trials, "NCT04402008")
    criteria = trial.eligibility.criteria
    assert criteria.startswith("Key Inclusion Criteria:")
    study, *referenced = resources(trial, "R5")
    assert study["recruitment"]["eligibility"] == {"reference": "Group/elig-NCT04402008"}
    group = by_type(referenced, "Group")["elig-NCT04402008"]
    assert (group["membership"], group["type"], group["description"]) == ("definitional", "person", criteria)
    study, *referenced = resources(trial, "R4")
    assert study["enrollment"] == [{"reference": "Group/elig-NCT04402008"}]
    group = by_type(referenced, "Group")["elig-NCT04402008"]
    assert (group["actual"], group["type"]) == (False, "person")
    assert group["extension"] == [{"url": ELIGIBILITY_CRITERIA_EXTENSION, "valueMarkdown": criteria}]


# NCT03459976 (tests/data/ctgov/aact-fixtures/legacy-xml), its criteria block read by hand: one inclusion
# criterion, eight numbered exclusion criteria; <gender>Female</gender>, ages 40 Years to 70 Years.
NCT03459976_INCLUSION = ["Age (45 - 70 yr old)."]
NCT03459976_EXCLUSION = [
    "Age more than 70 yr and less than 40 yr.",
    "Abnormal cardiac hematological renal hepatic functions.",
    "Breast cancer or other malignancies.",
    "Concomitant benign and for malignant adnexal pathologies.",
    "Hormonal medication.",
    "Patient taking or having chemo-radiotherapy.",
    "Patients unfit for surgical intervention.",
    "Smoker.",
]
CRITERION = {
    "coding": [{"system": ELIGIBILITY_CHARACTERISTIC_SYSTEM, "code": "criterion", "display": "Eligibility criterion"}]
}
AGE = {"coding": [{"system": "http://loinc.org", "code": "30525-0", "display": "Age"}]}
SEX = {"coding": [{"system": "http://loinc.org", "code": "46098-0", "display": "Sex"}]}
UCUM = "http://unitsofmeasure.org"


def with_items(trial: Trial, inclusion: list[str], exclusion: list[str], **more) -> Trial:
    eligibility = trial.eligibility.model_copy(update={"inclusion": inclusion, "exclusion": exclusion, **more})
    return trial.model_copy(update={"eligibility": eligibility})


def nct03459976(trials: list[Trial]) -> Trial:
    return next(t for t in trials if t.id == "NCT03459976" and t.source.format == "ctgov-xml")


def group_of(trial: Trial, version: str) -> dict:
    (group,) = [r for r in resources(trial, version) if r["resourceType"] == "Group"]
    return group


def criteria_of(group: dict) -> list[tuple[str, bool]]:
    return [
        (c["valueCodeableConcept"]["text"], c["exclude"]) for c in group["characteristic"] if c["code"] == CRITERION
    ]


def test_each_criterion_is_a_characteristic_of_the_group(trials):
    """The criteria one by one, in order, as coded characteristics with their text; then the ages (UCUM) and
    the sex (administrative gender); the whole block stays where it was. The same characteristics in R5,
    R4B and R4."""
    read = nct03459976(trials)
    assert read.eligibility.criteria.startswith("Inclusion Criteria:\n\nAge (45 - 70 yr old).\n\nExclusion Criteria:")
    trial = with_items(read, NCT03459976_INCLUSION, NCT03459976_EXCLUSION)
    expected = [
        {"code": CRITERION, "valueCodeableConcept": {"text": "Age (45 - 70 yr old)."}, "exclude": False},
        *(
            {"code": CRITERION, "valueCodeableConcept": {"text": text}, "exclude": True}
            for text in NCT03459976_EXCLUSION
        ),
        {
            "code": AGE,
            "valueRange": {
                "low": {"value": 40, "unit": "Years", "system": UCUM, "code": "a"},
                "high": {"value": 70, "unit": "Years", "system": UCUM, "code": "a"},
            },
            "exclude": False,
        },
        {
            "code": SEX,
            "valueCodeableConcept": {
                "coding": [
                    {"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"}
                ]
            },
            "exclude": False,
        },
    ]
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        group = by_type(referenced, "Group")["elig-NCT03459976"]
        assert group["characteristic"] == expected, version
        assert problems(group, version) == []
        if version == "R5":
            assert group["description"] == read.eligibility.criteria
            assert study["recruitment"]["eligibility"] == {"reference": "Group/elig-NCT03459976"}
        else:
            assert group["extension"] == [
                {"url": ELIGIBILITY_CRITERIA_EXTENSION, "valueMarkdown": read.eligibility.criteria}
            ]
            assert study["enrollment"] == [{"reference": "Group/elig-NCT03459976"}]


def test_the_split_criteria_of_a_real_record_are_characteristics(trials):
    """As read (the criteria split from the block by the mapping), NCT03459976's Group holds the criteria
    read by hand from the record."""
    group = group_of(nct03459976(trials), "R4")
    assert criteria_of(group) == [(t, False) for t in NCT03459976_INCLUSION] + [
        (t, True) for t in NCT03459976_EXCLUSION
    ]


def test_a_criterion_keeps_its_sub_criteria(trials):
    """NCT02552212 (API v2): the inclusion criterion "Active disease at Screening as defined by" has two
    sub-criteria (BASDAI score >= 4, spinal pain >= 4), one text with them on lines of their own."""
    read = trial_of(trials, "NCT02552212")
    item = (
        "Active disease at Screening as defined by\n"
        "- Bath Ankylosing Spondylitis Disease Activity Index (BASDAI) score >= 4\n"
        "- Spinal pain >= 4 on a 0 to 10 Numerical Rating Scale (NRS)"
    )
    assert read.eligibility.inclusion[4] == item  # as the mapping splits the block
    trial = with_items(
        read, ["At least 18 years old at the start of Screening Visit", item], ["Recent live vaccination"]
    )
    for version in VERSIONS:
        group = group_of(trial, version)
        assert criteria_of(group)[1] == (item, False)
        assert criteria_of(group_of(read, version))[4] == (item, False)
        assert problems(group, version) == []


def test_the_group_id_stays_when_the_criteria_change(trials):
    """The Group's id is the trial's: criteria reordered or edited change its characteristics, not its id."""
    trial = with_items(nct03459976(trials), NCT03459976_INCLUSION, NCT03459976_EXCLUSION)
    edited = with_items(trial, NCT03459976_INCLUSION, [*NCT03459976_EXCLUSION[::-1][:-1], "Smoker (any tobacco)."])
    for version in VERSIONS:
        before, after = group_of(trial, version), group_of(edited, version)
        assert before["id"] == after["id"] == "elig-NCT03459976"
        assert before["identifier"] == after["identifier"]
        assert criteria_of(after)[1:] == [(t, True) for t in edited.eligibility.exclusion]
        assert criteria_of(before) != criteria_of(after)


def test_ages_in_ucum_and_sex_where_coded(trials):
    """NCT02028676 (legacy XML: All, 3 Months to 17 Years), NCT00734539 (legacy XML: All, minimum N/A, maximum 5
    Days), NCT04386109 (classic API: 1 Day to 29 Days), NCT03459976 (Female, 40 to 70 Years): one Range in
    UCUM, the registry's word as its unit; no sex characteristic for All."""
    cases = {
        ("NCT02028676", "ctgov-xml"): (
            {"value": 3, "unit": "Months", "code": "mo"},
            {"value": 17, "unit": "Years", "code": "a"},
        ),
        ("NCT00734539", "ctgov-xml"): (None, {"value": 5, "unit": "Days", "code": "d"}),
        ("NCT04386109", "ctgov-classic"): (
            {"value": 1, "unit": "Day", "code": "d"},
            {"value": 29, "unit": "Days", "code": "d"},
        ),
    }
    for (nct, fmt), (low, high) in cases.items():
        trial = next(t for t in trials if t.id == nct and t.source.format == fmt)
        group = group_of(trial, "R5")
        (age,) = [c for c in group["characteristic"] if c["code"] == AGE]
        expected = {k: {**v, "system": UCUM} for k, v in (("low", low), ("high", high)) if v}
        assert age == {"code": AGE, "valueRange": expected, "exclude": False}, nct
        assert [c for c in group["characteristic"] if c["code"] == SEX] == []  # All: no limit to code
    # every real record's ages become a range, and only FEMALE and MALE a sex
    for trial in trials:
        group = next((r for r in resources(trial, "R4") if r["resourceType"] == "Group"), None)
        eligibility = trial.eligibility
        ages = [c for c in (group or {}).get("characteristic", []) if c["code"] == AGE]
        sexes = [c for c in (group or {}).get("characteristic", []) if c["code"] == SEX]
        assert len(ages) == bool(eligibility and (eligibility.minimum_age or eligibility.maximum_age)), trial.id
        assert len(sexes) == (eligibility is not None and eligibility.sex in ("FEMALE", "MALE")), trial.id


def test_a_group_without_a_criteria_block(trials):
    """Ages and sex without a block still make the Group, and the study refers to it; nothing at all, none."""
    trial = nct03459976(trials)
    trial = with_items(trial, [], [], criteria=None)
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        group = by_type(referenced, "Group")["elig-NCT03459976"]
        assert "description" not in group and "extension" not in group
        assert [c["code"] for c in group["characteristic"]] == [AGE, SEX]
        assert problems(group, version) == []
        assert (study.get("recruitment", {}).get("eligibility") or study["enrollment"][0]) == {
            "reference": "Group/elig-NCT03459976"
        }
    nothing = trial.model_copy(update={"eligibility": None})
    for version in VERSIONS:
        study, *referenced = resources(nothing, version)
        assert by_type(referenced, "Group") == {}
        assert "enrollment" not in study and "eligibility" not in study.get("recruitment", {})


def plan_id(key: str) -> str:
    return "plan-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


CLINICAL_PROTOCOL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
            "code": "clinical-protocol",
            "display": "Clinical Protocol",
        }
    ]
}


def test_interventions_are_plan_definitions(trials):
    """NCT04811001 (API v2) gives two drugs to both its arms, "Arm A (Osimertinib->Dacomitinib)" and "Arm B
    (Dacomitinib->Osimertinib)": Osimertinib (other name Tagrisso, "TAGRISSO 40 mg film-coated tablets
    TAGRISSO 80 mg film-coated tablets") and Dacomitinib (other name Vizimpro, "Vizimpro 15 mg film-coated
    tablets Vizimpro 30 mg film-coated tablets Vizimpro 45 mg film-coated tablets")."""
    trial = trial_of(trials, "NCT04811001")
    arms = ["Arm A (Osimertinib->Dacomitinib)", "Arm B (Dacomitinib->Osimertinib)"]
    osimertinib, dacomitinib = plan_id("NCT04811001|osimertinib|"), plan_id("NCT04811001|dacomitinib|")
    expected = {
        osimertinib: {
            "resourceType": "PlanDefinition",
            "id": osimertinib,
            "extension": [
                {"url": INTERVENTION_OTHER_NAME_EXTENSION, "valueString": "Tagrisso"},
                *({"url": INTERVENTION_ARM_EXTENSION, "valueString": arm} for arm in arms),
            ],
            "identifier": [{"system": PLAN_ID_SYSTEM, "value": osimertinib}],
            "title": "Osimertinib",
            "type": CLINICAL_PROTOCOL,
            "status": "unknown",
            "description": "TAGRISSO 40 mg film-coated tablets TAGRISSO 80 mg film-coated tablets",
            "topic": [{"text": "DRUG"}],
        },
        dacomitinib: {
            "resourceType": "PlanDefinition",
            "id": dacomitinib,
            "extension": [
                {"url": INTERVENTION_OTHER_NAME_EXTENSION, "valueString": "Vizimpro"},
                *({"url": INTERVENTION_ARM_EXTENSION, "valueString": arm} for arm in arms),
            ],
            "identifier": [{"system": PLAN_ID_SYSTEM, "value": dacomitinib}],
            "title": "Dacomitinib",
            "type": CLINICAL_PROTOCOL,
            "status": "unknown",
            "description": "Vizimpro 15 mg film-coated tablets Vizimpro 30 mg film-coated tablets Vizimpro 45 mg "
            "film-coated tablets",
            "topic": [{"text": "DRUG"}],
        },
    }
    for version in VERSIONS:
        study, *referenced = resources(trial, version)
        assert study["protocol"] == [
            {"reference": f"PlanDefinition/{osimertinib}", "display": "Osimertinib"},
            {"reference": f"PlanDefinition/{dacomitinib}", "display": "Dacomitinib"},
        ]
        assert by_type(referenced, "PlanDefinition") == expected
        # the focus concept stays: name and type, the MeSH coding
        assert [f.get("concept", f)["text"] for f in study["focus"]] == ["DRUG: Osimertinib", "DRUG: Dacomitinib"]


def test_interventions_of_one_name_have_plans_of_their_own(trials):
    """NCT04646330 names its three interventions alike ("AK104+anlotinib"): their positions tell their
    PlanDefinitions apart; and two studies giving one drug have a PlanDefinition each."""
    trial = trial_of(trials, "NCT04646330")
    (study, *_) = resources(trial, "R5")
    assert [r["reference"] for r in study["protocol"]] == [
        f"PlanDefinition/{plan_id(f'NCT04646330|ak104 anlotinib|{n}')}" for n in (1, 2, 3)
    ]
    # Osimertinib is an intervention of NCT04811001 and of NCT02856893
    other = trial_of(trials, "NCT02856893")
    (study, *_) = resources(other, "R5")
    assert {"reference": f"PlanDefinition/{plan_id('NCT02856893|osimertinib|')}", "display": "Osimertinib"} in study[
        "protocol"
    ]


def test_two_studies_sharing_a_facility_write_one_location(nsclc):
    # Rabin Medical Center, Petah Tikva, Israel is a site of NCT03318939 (no zip) and NCT04764188 (zip 4941492)
    rabin = design_id("loc-", "Rabin Medical Center", "Petah Tikva", None, "Israel")
    for version in VERSIONS:
        folder = nsclc / version
        locations = ndjson(folder, "Location")
        assert [loc["id"] for loc in locations].count(rabin) == 1
        studies = {s["id"]: s for s in ndjson(folder, "ResearchStudy")}
        zips = {}
        for nct in ("NCT03318939", "NCT04764188"):
            (site,) = [s for s in studies[nct]["site"] if s["reference"] == f"Location/{rabin}"]
            zips[nct] = [e["valueString"] for e in site.get("extension", []) if e["url"] == SITE_POSTAL_CODE_EXTENSION]
        assert zips == {"NCT03318939": [], "NCT04764188": ["4941492"]}
        for kind in KINDS[1:5]:  # each shared resource once in its NDJSON file, and once in the bundle
            ids = [r["id"] for r in ndjson(folder, kind)]
            assert len(ids) == len(set(ids)) > 0, kind
        bundle = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
        assert [e["resource"]["id"] for e in bundle["entry"]].count(rabin) == 1


def references_in(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in references_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in references_in(v)]
    return []


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    """Every real record and seed exported in every version."""
    out = tmp_path_factory.mktemp("all")
    pipeline.convert([CTGOV, SEEDS], out, ["fhir"], options={"fhir_version": "all"})
    return out / "fhir"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_reference_in_a_bundle_resolves_to_an_earlier_entry(everything, version):
    bundle = json.loads((everything / version / "bundle.json").read_text(encoding="utf-8"))
    first: dict[str, int] = {}
    for index, entry in enumerate(bundle["entry"]):
        first.setdefault(f"{entry['resource']['resourceType']}/{entry['resource']['id']}", index)
        assert entry["request"]["url"] == f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
    checked = 0
    for index, entry in enumerate(bundle["entry"]):
        for reference in references_in(entry["resource"]):
            assert first.get(reference, index) < index, (entry["resource"]["id"], reference)  # present, and before
            checked += 1
    assert checked > 15000
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == set(KINDS)
    # the NDJSON files hold the same resources
    lines = sum(len(ndjson(everything / version, kind)) for kind in KINDS)
    assert lines == len(bundle["entry"])


def test_export_layout_bundle_ndjson_and_stable_ids(tmp_path):
    def run(out):
        report = pipeline.convert([CTGOV / "nsclc-v2-json", SEEDS], out, ["fhir"], options={"fhir_version": "all"})
        assert report.exit_code == 0
        return report

    run(tmp_path / "a")
    run(tmp_path / "b")
    for version in VERSIONS:
        folder = tmp_path / "a" / "fhir" / version
        studies = ndjson(folder, "ResearchStudy")
        assert len(studies) == 104  # 100 NSCLC studies and 4 seeds
        organizations = ndjson(folder, "Organization")
        assert len({o["id"] for o in organizations}) == len(organizations) > 50  # each organization once
        assert len(list(folder.glob("*.json"))) == 104 + 1  # one file per study, and the bundle
        assert sorted(p.name for p in folder.glob("*.ndjson")) == sorted(f"{kind}.ndjson" for kind in KINDS)
        bundle = json.loads((folder / "bundle.json").read_text())
        assert bundle["type"] == "transaction"
        assert len(bundle["entry"]) == sum(len(ndjson(folder, kind)) for kind in KINDS)
        assert {e["request"]["method"] for e in bundle["entry"]} == {"PUT"}
        assert problems(bundle, version) == []
        # re-exporting gives the same ids and the same bytes
        for path in folder.iterdir():
            assert path.read_bytes() == (tmp_path / "b" / "fhir" / version / path.name).read_bytes(), path.name
        assert orjson.loads((folder / "local-70e660247b04.json").read_bytes())["resourceType"] == "ResearchStudy"
    # R4's files are R4B's, byte for byte
    for path in (tmp_path / "a" / "fhir" / "R4B").iterdir():
        assert path.read_bytes() == (tmp_path / "a" / "fhir" / "R4" / path.name).read_bytes(), path.name


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


def test_convert_record_to_r4():
    record = next(s for s in v2_studies() if s["protocolSection"]["identificationModule"]["nctId"] == "NCT04402008")
    r4 = convert_record(record, "R4")
    assert r4 == convert_record(record, "R4B")
    assert r4["reasonStopped"] == {"text": "Business decision, not related to safety."}
    assert r4["enrollment"] == [{"reference": "Group/elig-NCT04402008"}]
    with pytest.raises(ValueError, match="choose one of canonical, R5, R4B, R4"):
        convert_record(record, "R3")
