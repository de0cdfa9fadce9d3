"""Sites, contacts, officials, references and links of every real record, compared field by field.

Each raw file is read here on its own terms (json for API v2 and classic JSON, ElementTree for the
legacy XML, csv for the exports), never through a reader, and its values are set beside the Trial's.
Display values of the older formats are turned into API v2 values through the tables below, which
list every value these records hold: a value not listed fails the test, so nothing passes unseen.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import CTGOV, DATA, v2_studies
from csv_layout import current_csv, legacy_csv, site_text

from trialport import pipeline
from trialport.model import Trial

AACT = CTGOV / "aact-fixtures"
NSCLC = CTGOV / "nsclc-v2-json" / "ctg-studies.json"
V2_FILES = sorted((AACT / "v2-json").glob("*.json"))
CLASSIC_FILES = sorted((AACT / "classic-api-json").glob("*.json"))
XML_FILES = sorted((AACT / "legacy-xml").glob("*.xml"))

SITE_STATUS = {
    "Recruiting": "RECRUITING",
    "Not yet recruiting": "NOT_YET_RECRUITING",
    "Active, not recruiting": "ACTIVE_NOT_RECRUITING",
    "Enrolling by invitation": "ENROLLING_BY_INVITATION",
    "Suspended": "SUSPENDED",
    "Completed": "COMPLETED",
}
ROLE = {
    "Contact": "CONTACT",
    "Principal Investigator": "PRINCIPAL_INVESTIGATOR",
    "Sub-Investigator": "SUB_INVESTIGATOR",
    "Study Chair": "STUDY_CHAIR",
    "Study Director": "STUDY_DIRECTOR",
}
REFERENCE_TYPE = {"background": "BACKGROUND", "result": "RESULT", "derived": "DERIVED"}


def read(*paths: Path) -> list[Trial]:
    results = [record.result for record in pipeline.read(paths)]
    assert all(isinstance(r, Trial) for r in results), [r for r in results if not isinstance(r, Trial)]
    return results


def text(value: str | None) -> str | None:
    """Whitespace made single spaces: what the readers do to every one-line value."""
    return " ".join(value.split()) or None if value else None


def display(table: dict[str, str], value: str | None) -> str | None:
    return table[value] if value else None


def phone(number: str | None, extension: str | None) -> str | None:
    number, extension = text(number), text(extension)
    if extension:
        return f"{number} ext. {extension}" if number else f"ext. {extension}"
    return number


def person(name, role, number, extension, email) -> dict[str, Any] | None:
    found = {"name": text(name), "role": role, "phone": phone(number, extension), "email": text(email)}
    return found if found["name"] or found["phone"] or found["email"] else None


def people(trial: Trial) -> dict[str, Any]:
    """The Trial's sites and people as plain values; citations compared word by word."""
    dump = trial.model_dump(include={"locations", "contacts", "officials", "references", "links"})
    for reference in dump["references"]:
        reference["citation"] = text(reference["citation"])
    return dump


def expected(locations, contacts, officials, references, links) -> dict[str, Any]:
    return {
        "locations": locations,
        "contacts": [c for c in contacts if c],
        "officials": [o for o in officials if o["name"]],
        "references": [r for r in references if r["pmid"] or r["citation"]],
        "links": [link for link in links if link["url"]],
    }


def site(facility, status, city, state, zip_code, country, geo, contacts) -> dict[str, Any]:
    return {
        "facility": text(facility),
        "status": status,
        "city": text(city),
        "state": text(state),
        "zip": text(zip_code),
        "country": text(country),
        "geo": geo,
        "contacts": [c for c in contacts if c],
    }


# --- API v2 -----------------------------------------------------------------------------------------


def v2_expected(study: dict) -> dict[str, Any]:
    places = study["protocolSection"].get("contactsLocationsModule", {})
    refs = study["protocolSection"].get("referencesModule", {})

    def contact(c: dict) -> dict | None:
        return person(c.get("name"), c.get("role"), c.get("phone"), c.get("phoneExt"), c.get("email"))

    return expected(
        [
            site(
                s.get("facility"),
                s.get("status"),
                s.get("city"),
                s.get("state"),
                s.get("zip"),
                s.get("country"),
                {"lat": s["geoPoint"]["lat"], "lon": s["geoPoint"]["lon"]} if "geoPoint" in s else None,
                [contact(c) for c in s.get("contacts", [])],
            )
            for s in places.get("locations", [])
        ],
        [contact(c) for c in places.get("centralContacts", [])],
        [
            {"name": text(o.get("name")), "affiliation": text(o.get("affiliation")), "role": o.get("role")}
            for o in places.get("overallOfficials", [])
        ],
        [
            {"pmid": r.get("pmid"), "citation": text(r.get("citation")), "type": r.get("type")}
            for r in refs.get("references", [])
        ],
        [{"label": text(link.get("label")), "url": link.get("url")} for link in refs.get("seeAlsoLinks", [])],
    )


@pytest.fixture(scope="module")
def v2_pairs() -> list[tuple[dict, Trial]]:
    studies = v2_studies()
    trials = read(NSCLC, *V2_FILES)
    assert [t.id for t in trials] == [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    return list(zip(studies, trials, strict=True))


def test_every_v2_record_field_by_field(v2_pairs):
    for study, trial in v2_pairs:
        assert people(trial) == v2_expected(study), trial.id
        assert trial.why_stopped == text(study["protocolSection"]["statusModule"].get("whyStopped")), trial.id


def test_v2_counts_from_the_raw_nsclc_array(v2_pairs):
    nsclc = [trial for _, trial in v2_pairs[:100]]
    assert sum(1 for t in nsclc if t.locations) == 87
    assert sum(len(t.locations) for t in nsclc) == 959
    assert sum(1 for t in nsclc if t.contacts) == 51
    assert sum(len(t.contacts) for t in nsclc) == 71
    assert sum(len(t.officials) for t in nsclc) == 97
    assert sum(len(t.references) for t in nsclc) == 69
    assert sum(len(t.links) for t in nsclc) == 6
    assert sum(1 for t in nsclc for s in t.locations if s.geo) == 941


def test_v2_site_with_geo_point_and_phone_extension(v2_pairs):
    trial = next(t for _, t in v2_pairs if t.id == "NCT05701787")
    first, shanghai = trial.locations  # the registry lists the site twice, with two phone numbers
    assert first.contacts[0].phone == "021-22200000"
    assert (shanghai.status, shanghai.city, shanghai.state, shanghai.zip, shanghai.country) == (
        "RECRUITING",
        "Shanghai",
        "Shanghai Municipality",
        "200030",
        "China",
    )
    assert (shanghai.geo.lat, shanghai.geo.lon) == (31.22222, 121.45806)
    (contact,) = shanghai.contacts
    assert contact.model_dump() == {
        "name": "Xiaomin Niu",
        "role": "CONTACT",
        "phone": "86 21 2220 0000 ext. 3708",
        "email": "ar_tey@hotmail.com",
    }
    gustave = next(t for _, t in v2_pairs if t.id == "NCT03606070")
    assert gustave.contacts[0].model_dump() == {
        "name": "Caroline CARAMELLA, MD",
        "role": "CONTACT",
        "phone": "0142114211 ext. +33",  # the registry's extension field holds the country code: kept as given
        "email": "caroline.caramella@gustaveroussy.fr",
    }


def test_v2_withdrawn_study_without_sites_or_references(v2_pairs):
    trial = next(t for _, t in v2_pairs if t.id == "NCT02795884")
    assert trial.status == "WITHDRAWN"
    assert (trial.locations, trial.contacts, trial.officials, trial.references, trial.links) == ([], [], [], [], [])
    assert trial.why_stopped.startswith("Because of reconsideration of using erlotinib(EGFR Tyrosine kinase inhibitor)")
    (trimmed,) = read(AACT / "v2-json" / "_hand_trimmed_or_mislabeled" / "NCT03453554.json")
    assert (trimmed.locations, trimmed.contacts, trimmed.officials, trimmed.references) == ([], [], [], [])


# --- classic API JSON -------------------------------------------------------------------------------


def classic_studies(path: Path) -> list[dict]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if "FullStudiesResponse" in document:
        return [item["Study"] for item in document["FullStudiesResponse"]["FullStudies"]]
    return [document["FullStudy"]["Study"]]


def listed(module: dict, wrapper: str, item: str) -> list:
    return module.get(wrapper, {}).get(item, [])


def classic_expected(study: dict) -> dict[str, Any]:
    p = study["ProtocolSection"]
    places, refs = p.get("ContactsLocationsModule", {}), p.get("ReferencesModule", {})

    def contact(c: dict, prefix: str) -> dict | None:
        return person(
            c.get(f"{prefix}Name"),
            display(ROLE, c.get(f"{prefix}Role")),
            c.get(f"{prefix}Phone"),
            c.get(f"{prefix}PhoneExt"),
            c.get(f"{prefix}EMail"),
        )

    return expected(
        [
            site(
                s.get("LocationFacility"),
                display(SITE_STATUS, s.get("LocationStatus")),
                s.get("LocationCity"),
                s.get("LocationState"),
                s.get("LocationZip"),
                s.get("LocationCountry"),
                None,
                [contact(c, "LocationContact") for c in listed(s, "LocationContactList", "LocationContact")],
            )
            for s in listed(places, "LocationList", "Location")
        ],
        [contact(c, "CentralContact") for c in listed(places, "CentralContactList", "CentralContact")],
        [
            {
                "name": text(o.get("OverallOfficialName")),
                "affiliation": text(o.get("OverallOfficialAffiliation")),
                "role": display(ROLE, o.get("OverallOfficialRole")),
            }
            for o in listed(places, "OverallOfficialList", "OverallOfficial")
        ],
        [
            {
                "pmid": r.get("ReferencePMID"),
                "citation": text(r.get("ReferenceCitation")),
                "type": display(REFERENCE_TYPE, r.get("ReferenceType")),
            }
            for r in listed(refs, "ReferenceList", "Reference")
        ],
        [
            {"label": text(link.get("SeeAlsoLinkLabel")), "url": link.get("SeeAlsoLinkURL")}
            for link in listed(refs, "SeeAlsoLinkList", "SeeAlsoLink")
        ],
    )


@pytest.fixture(scope="module")
def classic_pairs() -> list[tuple[dict, Trial]]:
    pairs = []
    for path in CLASSIC_FILES:
        studies, trials = classic_studies(path), read(path)
        assert [t.id for t in trials] == [s["ProtocolSection"]["IdentificationModule"]["NCTId"] for s in studies]
        pairs += zip(studies, trials, strict=True)
    return pairs


def test_every_classic_record_field_by_field(classic_pairs):
    assert len(classic_pairs) == 206
    for study, trial in classic_pairs:
        assert people(trial) == classic_expected(study), trial.id
        assert trial.why_stopped == text(study["ProtocolSection"]["StatusModule"].get("WhyStopped")), trial.id


def test_classic_counts(classic_pairs):
    trials = [t for _, t in classic_pairs]
    assert sum(len(t.locations) for t in trials) == 373
    assert sum(len(t.contacts) for t in trials) == 173
    assert sum(len(t.officials) for t in trials) == 201
    assert sum(len(t.references) for t in trials) == 476
    assert sum(len(t.links) for t in trials) == 58
    assert sum(1 for t in trials if t.why_stopped) == 4


def test_classic_official_site_and_link():
    (arrow,) = read(AACT / "classic-api-json" / "NCT02028676.json")
    assert arrow.officials[0].model_dump() == {
        "name": "Diana M Gibb, MD",
        "affiliation": "Medical Research Council",
        "role": "PRINCIPAL_INVESTIGATOR",
    }
    assert [(s.facility, s.city, s.state, s.country) for s in arrow.locations][:2] == [
        ("MRC /UVRI Uganda Research Unit on AIDS", "Entebbe", None, "Uganda"),
        ("Joint Clinical Research Centre", "Kampala", None, "Uganda"),
    ]
    assert [(link.label, link.url) for link in arrow.links] == [
        ("main ARROW trial webpage", "http://www.arrowtrial.org/")
    ]
    assert [(r.pmid, r.type) for r in arrow.references] == [
        ("23473847", "RESULT"),
        ("24382064", "RESULT"),
        ("27064996", "DERIVED"),
    ]
    studies = {t.id: t for t in read(AACT / "classic-api-json" / "results_1.json")}
    (auxilio,) = studies["NCT04779996"].locations
    assert (auxilio.facility, auxilio.status, auxilio.city, auxilio.zip, auxilio.country) == (
        "Auxilio Mutuo Cancer Center",
        "RECRUITING",
        "San Juan",
        "00918",
        "Puerto Rico",
    )
    assert [(c.name, c.role, c.phone) for c in auxilio.contacts] == [
        ("Fernando Cabanillas, MD", "CONTACT", "787-758-2000 ext. 3503"),
        ("Carmen Morales", "CONTACT", "787-758-2000 ext. 3503"),
        ("Fernando Cabanillas, MD", "PRINCIPAL_INVESTIGATOR", None),
        ("Javier Morales, MD", "SUB_INVESTIGATOR", None),
        ("Josselyn Molina, MD", "SUB_INVESTIGATOR", None),
    ]
    assert auxilio.contacts[1].email == "camorales@auxiliomutuo.com"


def test_classic_observational_design_age_groups_and_population(classic_pairs):
    by_id = {t.id: (s, t) for s, t in classic_pairs}
    for study, trial in by_id.values():
        eligibility = study["ProtocolSection"]["EligibilityModule"]
        ages = listed(eligibility, "StdAgeList", "StdAge")
        assert trial.eligibility.std_ages == [
            {"Child": "CHILD", "Adult": "ADULT", "Older Adult": "OLDER_ADULT"}[a] for a in ages
        ]
        assert text(trial.eligibility.study_population) == text(eligibility.get("StudyPopulation")), trial.id
    observational = [t for t in by_id.values() if t[1].design and t[1].design.observational_model]
    assert len(observational) == 93  # 93 studies list a DesignObservationalModel, each exactly one
    study, trial = by_id["NCT04892888"]
    assert (trial.status, trial.why_stopped) == ("WITHDRAWN", "Business decision")
    assert [(s.facility, s.city, s.country) for s in trial.locations] == [("Takeda Selected Site", "Tokyo", "Japan")]
    assert [(o.name, o.role) for o in trial.officials] == [("Study Director", "STUDY_DIRECTOR")]


def test_classic_studies_without_the_modules_give_empty_lists(classic_pairs):
    by_id = {t.id: t for _, t in classic_pairs}
    for nct in ("NCT04339322", "NCT04780308", "NCT04780217"):  # no ContactsLocationsModule, no ReferencesModule
        trial = by_id[nct]
        assert (trial.locations, trial.contacts, trial.officials, trial.references, trial.links) == ([], [], [], [], [])


# --- legacy XML -------------------------------------------------------------------------------------


def xml_person(element: ET.Element, role: str | None) -> dict | None:
    return person(
        element.findtext("last_name"),
        role,
        element.findtext("phone"),
        element.findtext("phone_ext"),
        element.findtext("email"),
    )


def xml_expected(root: ET.Element) -> dict[str, Any]:
    def site_contacts(location: ET.Element) -> list:
        found = []
        for child in location:
            if child.tag in ("contact", "contact_backup"):
                found.append(xml_person(child, "CONTACT"))
            elif child.tag == "investigator":
                found.append(xml_person(child, display(ROLE, child.findtext("role"))))
        return found

    address = "facility/address/"
    reference_type = {"reference": "BACKGROUND", "results_reference": "RESULT"}
    return expected(
        [
            site(
                s.findtext("facility/name"),
                display(SITE_STATUS, s.findtext("status")),
                s.findtext(address + "city"),
                s.findtext(address + "state"),
                s.findtext(address + "zip"),
                s.findtext(address + "country"),
                None,  # the XML has no geo point
                site_contacts(s),
            )
            for s in root.findall("location")
        ],
        [xml_person(c, "CONTACT") for tag in ("overall_contact", "overall_contact_backup") for c in root.findall(tag)],
        [
            {
                "name": text(o.findtext("last_name")),
                "affiliation": text(o.findtext("affiliation")),
                "role": display(ROLE, o.findtext("role")),
            }
            for o in root.findall("overall_official")
        ],
        [
            {"pmid": r.findtext("PMID"), "citation": text(r.findtext("citation")), "type": reference_type[r.tag]}
            for r in root
            if r.tag in reference_type
        ],
        [{"label": text(link.findtext("description")), "url": link.findtext("url")} for link in root.findall("link")],
    )


@pytest.fixture(scope="module")
def xml_pairs() -> list[tuple[ET.Element, Trial]]:
    roots = [ET.parse(path).getroot() for path in XML_FILES]
    trials = read(*XML_FILES)
    assert [t.id for t in trials] == [root.findtext("id_info/nct_id") for root in roots]
    return list(zip(roots, trials, strict=True))


def test_every_xml_record_field_by_field(xml_pairs):
    for root, trial in xml_pairs:
        assert people(trial) == xml_expected(root), trial.id
        assert trial.why_stopped == text(root.findtext("why_stopped")), trial.id
        eligibility, design = root.find("eligibility"), root.find("study_design_info")
        if eligibility is not None:
            population = eligibility.findtext("study_pop/textblock")
            assert text(trial.eligibility.study_population) == text(population), trial.id
            assert (
                trial.eligibility.sampling_method
                == {
                    None: None,
                    "Non-Probability Sample": "NON_PROBABILITY_SAMPLE",
                    "Probability Sample": "PROBABILITY_SAMPLE",
                }[eligibility.findtext("sampling_method")]
            )
            assert trial.eligibility.std_ages == []  # the legacy XML has no age groups
        if design is not None:
            assert (
                trial.design.observational_model
                == {
                    None: None,
                    "Cohort": "COHORT",
                    "Case Control": "CASE_CONTROL",
                    "Case-Control": "CASE_CONTROL",
                    "Other": "OTHER",
                }[design.findtext("observational_model")]
            ), trial.id
            assert (
                trial.design.time_perspective
                == {
                    None: None,
                    "Prospective": "PROSPECTIVE",
                    "Retrospective": "RETROSPECTIVE",
                    "Cross-Sectional": "CROSS_SECTIONAL",
                    "Other": "OTHER",
                }[design.findtext("time_perspective")]
            ), trial.id


def test_xml_counts(xml_pairs):
    trials = [t for _, t in xml_pairs]
    assert sum(len(t.locations) for t in trials) == 2262
    assert sum(len(s.contacts) for t in trials for s in t.locations) == 1126 + 4 + 1136
    assert sum(len(t.contacts) for t in trials) == 21 + 9
    assert sum(len(t.officials) for t in trials) == 74
    assert sum(len(t.references) for t in trials) == 118 + 25
    assert sum(len(t.links) for t in trials) == 20
    assert all(s.geo is None for t in trials for s in t.locations)


def test_xml_site_with_its_contacts_and_investigator():
    (duke,) = read(AACT / "legacy-xml" / "NCT01220531.xml")
    first = duke.locations[0]
    assert (first.facility, first.status, first.city, first.state, first.zip, first.country, first.geo) == (
        "Duke University Medical Center",
        None,
        "Durham",
        "North Carolina",
        "27701",
        "United States",
        None,
    )
    assert [c.model_dump() for c in first.contacts] == [
        {
            "name": "M. Louise Markert, M.D., Ph.D",
            "role": "CONTACT",
            "phone": "919-684-6263",
            "email": "marke001@mc.duke.edu",
        },
        {
            "name": "Stephanie Gupton, RN, CPNP",
            "role": "CONTACT",
            "phone": "919-684-4704",
            "email": "stephanie.gupton@dm.duke.edu",
        },
        {"name": "M. Louise Markert, M.D., Ph.D", "role": "PRINCIPAL_INVESTIGATOR", "phone": None, "email": None},
    ]
    assert [c.name for c in duke.contacts] == ["M. Louise Markert, M.D., Ph.D", "Stephanie Gupton, RN, CPNP"]
    (va,) = read(AACT / "legacy-xml" / "NCT02465060.xml")
    (west_haven,) = [
        s for s in va.locations if s.facility == "Veterans Affairs Connecticut Healthcare System-West Haven Campus"
    ]
    assert (west_haven.status, west_haven.city, west_haven.state, west_haven.zip) == (
        "RECRUITING",
        "West Haven",
        "Connecticut",
        "06516",
    )
    assert [(c.name, c.role, c.phone) for c in west_haven.contacts] == [
        ("Herta H. Chao", "CONTACT", "203-937-3421 ext. 2832"),
        ("Herta H. Chao", "PRINCIPAL_INVESTIGATOR", None),
    ]


def test_xml_official_references_link_and_observational_fields():
    (rtog,) = read(AACT / "legacy-xml" / "NCT00023673.xml")
    assert [o.model_dump() for o in rtog.officials] == [
        {
            "name": "Jeffrey Bradley, MD",
            "affiliation": "Mallinckrodt Institute of Radiology at Washington University Medical Center",
            "role": "STUDY_CHAIR",
        }
    ]
    assert [(r.pmid, r.type) for r in rtog.references] == [
        ("20368547", "RESULT"),
        ("20457350", "RESULT"),
        (None, "RESULT"),
    ]
    assert rtog.references[2].citation.startswith(
        "Bradley JD, Graham M, Suzanne S, et al.: Phase I results of RTOG L-0117"
    )
    (site,) = [s for s in rtog.locations if s.facility == "Mobile Infirmary Medical Center"]
    assert (site.city, site.state, site.zip, site.country) == ("Mobile", "Alabama", "36652-2144", "United States")
    (arrow,) = read(AACT / "legacy-xml" / "NCT02028676.xml")
    assert [(link.label, link.url) for link in arrow.links] == [
        ("main ARROW trial webpage", "http://www.arrowtrial.org/")
    ]
    (aps,) = read(AACT / "legacy-xml" / "NCT00482794.xml")
    assert aps.eligibility.study_population == (
        "Individuals with antiphospholipid antibody syndrome and their family members"
    )
    assert aps.eligibility.sampling_method == "NON_PROBABILITY_SAMPLE"
    assert (aps.design.observational_model, aps.design.time_perspective) == ("COHORT", "OTHER")
    (stopped,) = read(AACT / "legacy-xml" / "NCT00277524.xml")
    assert stopped.why_stopped == "Ended follow-up after four years"


def test_xml_withdrawn_study_without_sites():
    (trial,) = read(AACT / "legacy-xml" / "NCT02591810.xml")
    assert trial.status == "WITHDRAWN"
    assert (trial.locations, trial.contacts, trial.references, trial.links, trial.why_stopped) == ([], [], [], [], None)
    assert len(trial.officials) == 1


# --- CSV exports ------------------------------------------------------------------------------------


def check_sites(csv_sites: list, source_sites: list[tuple], trial: Trial) -> tuple[int, int]:
    """Each site read from the export against its source parts: split exactly, or (said in a
    diagnostic) the text not placed kept as the facility, nothing lost. Returns (exact, kept whole)."""
    assert len(csv_sites) == len(source_sites), trial.id
    exact = kept = 0
    for got, parts in zip(csv_sites, source_sites, strict=True):
        placed = (got.facility, got.city, got.state, got.zip, got.country)
        if placed == parts:
            exact += 1
            continue
        kept += 1
        assert got.city is None and got.state is None, (trial.id, placed, parts)  # never a wrong split
        assert site_text(*placed) == site_text(*parts), (trial.id, placed, parts)  # nothing lost
    unsplit = [d for d in trial.diagnostics if d.code == "location-unsplit"]
    assert bool(unsplit) == bool(kept), trial.id
    if kept:
        assert unsplit[0].message.startswith(f"{kept} of {len(csv_sites)} sites"), trial.id
    return exact, kept


def test_current_export_sites_against_their_v2_source(tmp_path):
    studies = v2_studies()
    (tmp_path / "export.csv").write_text(current_csv(studies), encoding="utf-8")
    trials = read(tmp_path / "export.csv")
    assert len(trials) == len(studies) == 108
    exact = kept = 0
    for study, trial in zip(studies, trials, strict=True):
        source = [
            tuple(text(s.get(k)) for k in ("facility", "city", "state", "zip", "country"))
            for s in study["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        ]
        assert all(s.status is None and s.geo is None and s.contacts == [] for s in trial.locations)
        counts = check_sites(trial.locations, source, trial)
        exact, kept = exact + counts[0], kept + counts[1]
        ages = study["protocolSection"].get("eligibilityModule", {}).get("stdAges", [])
        assert trial.eligibility.std_ages == ages, trial.id
    print(f"\nv2 -> CSV sites: {exact} split, {kept} kept whole of {exact + kept}")
    assert exact + kept == 959 + 155  # the NSCLC array's 959 and the single files' 1 + 1 + 42 + 105 + 3 + 1 + 1 + 1
    assert exact / (exact + kept) >= 0.9


# Two sites whose registrants put a state or a box number into the city field: their export text is the
# text of another, proper split, which is the one read. No reading of the text could tell them apart.
SAME_TEXT = {
    ("Tokai University School of Medicine", "Isehara City, Kanagawa", None, "259-1193", "Japan"): (
        "Tokai University School of Medicine",
        "Isehara City",
        "Kanagawa",
        "259-1193",
        "Japan",
    ),
    ("UZ-Parirenyatwa CRS", "AIDS Research Unit P.O. Box A178", "Harare", None, "Zimbabwe"): (
        "UZ-Parirenyatwa CRS, AIDS Research Unit P.O. Box A178",
        "Harare",
        None,
        None,
        "Zimbabwe",
    ),
}


def test_legacy_export_sites_against_their_xml_source(tmp_path):
    (tmp_path / "legacy.csv").write_text(legacy_csv(XML_FILES), encoding="utf-8")
    trials = read(tmp_path / "legacy.csv")
    exact = kept = 0
    for path, trial in zip(XML_FILES, trials, strict=True):
        root = ET.parse(path).getroot()
        source = [
            tuple(
                text(s.findtext(tag))
                for tag in ("facility/name", *(f"facility/address/{a}" for a in ("city", "state", "zip", "country")))
            )
            for s in root.findall("location")
        ]
        source = [SAME_TEXT.get(parts, parts) for parts in source]
        counts = check_sites(trial.locations, source, trial)
        exact, kept = exact + counts[0], kept + counts[1]
    print(f"\nlegacy XML -> legacy CSV sites: {exact} split, {kept} kept whole of {exact + kept}")
    assert exact / (exact + kept) >= 0.9


def test_real_legacy_export_row():
    (trial,) = read(DATA / "legacy-csv" / "nct04333550.csv")
    # the cell: "Regenerative Medicine Research Center, Kermanshah University of Medical Sciences, Kermanshah,
    # Iran, Kermanshah, Iran, Islamic Republic of": the country has a comma, and the rest may be a facility
    # with commas and a city, or a city and a state: kept whole, and said so
    (site,) = trial.locations
    assert site.country == "Iran, Islamic Republic of"
    assert site.facility == (
        "Regenerative Medicine Research Center, Kermanshah University of Medical Sciences, Kermanshah, Iran, Kermanshah"
    )
    assert (site.city, site.state, site.zip) == (None, None, None)
    assert [d.code for d in trial.diagnostics if d.field == "locations"] == ["location-unsplit"]
    assert trial.eligibility.std_ages == ["CHILD", "ADULT", "OLDER_ADULT"]  # "(Child, Adult, Older Adult)"


def test_current_export_without_a_locations_column():
    path = CTGOV / "mrd-aml-csv" / "ctg-studies.csv"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trials = read(path)
    assert len(trials) == len(rows) == 245
    for row, trial in zip(rows, trials, strict=True):
        assert trial.locations == [] and trial.contacts == []
        assert trial.eligibility.std_ages == [group.strip() for group in row["Age"].split(",")], trial.id
    assert not any(d.code == "location-unsplit" for t in trials for d in t.diagnostics)
    by_id = {t.id: t for t in trials}
    assert by_id["NCT03796390"].eligibility.std_ages == ["CHILD", "ADULT", "OLDER_ADULT"]
