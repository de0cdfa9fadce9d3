"""FHIR resources written by hand after the agreed design (sites, people, references, eligibility), from one
real record, NCT04736823 in tests/data/ctgov/nsclc-v2-json: what the validator must accept in each FHIR
version, and the base its negative controls break one thing of."""

from __future__ import annotations

import hashlib
from typing import Any

from conftest import v2_studies

from trialport.fhir.codes import (
    ELIGIBILITY_CRITERIA_EXTENSION,
    ISO3166_SYSTEM,
    LOCATION_ID_SYSTEM,
    PARTY_ROLE_SYSTEM,
    PRACTITIONER_ID_SYSTEM,
    RECRUITMENT_STATUS_SYSTEM,
    REFERENCE_TYPE_EXTENSION,
    REFERENCE_TYPE_SYSTEM,
    SITE_STATUS_EXTENSION,
    TIME_FRAME_EXTENSION,
    XVER,
)

NCT = "NCT04736823"
PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"


def _id(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(text.casefold().encode("utf-8")).hexdigest()[:16]


def _record() -> dict[str, Any]:
    return next(s for s in v2_studies() if s["protocolSection"]["identificationModule"]["nctId"] == NCT)[
        "protocolSection"
    ]


def _parts() -> dict[str, Any]:
    """What both shapes share: the Location, Practitioner, PractitionerRoles and Organizations of the record."""
    record = _record()
    people = record["contactsLocationsModule"]
    site = people["locations"][0]  # Sun Yat-Sen University Cancer Center, Guanzhou, China: RECRUITING
    official = people["overallOfficials"][0]  # Li Zhang, MD, Sun Yat-sen University, STUDY_CHAIR
    site_contact = site["contacts"][0]  # Li Zhang, MD, CONTACT, 020-87343009, zhangli@sysucc.org.cn
    site_investigator = site["contacts"][1]  # Li Zhang, MD, PRINCIPAL_INVESTIGATOR (no phone, no email)
    sponsor = record["sponsorCollaboratorsModule"]["leadSponsor"]["name"]
    location_id = _id("loc-", f"{site['facility']}|{site['city']}|{site['state']}|{site['country']}")
    practitioner_id = _id("pr-", f"{official['name']}|{official['affiliation']}")
    affiliation_id = _id("org-", official["affiliation"])
    location = {
        "resourceType": "Location",
        "id": location_id,
        "identifier": [{"system": LOCATION_ID_SYSTEM, "value": location_id}],
        "status": "active",
        "name": site["facility"],
        "mode": "instance",
        "address": {"city": site["city"], "state": site["state"], "country": site["country"]},
        "position": {"latitude": site["geoPoint"]["lat"], "longitude": site["geoPoint"]["lon"]},
    }
    practitioner = {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "identifier": [{"system": PRACTITIONER_ID_SYSTEM, "value": practitioner_id}],
        "name": [{"text": official["name"]}],
        "telecom": [
            {"system": "phone", "value": site_contact["phone"], "use": "work"},
            {"system": "email", "value": site_contact["email"], "use": "work"},
        ],
    }
    chair = {
        "resourceType": "PractitionerRole",
        "id": _id("prr-", f"{practitioner_id}|{official['role']}|{affiliation_id}||"),
        "practitioner": {"reference": f"Practitioner/{practitioner_id}", "display": official["name"]},
        "organization": {"reference": f"Organization/{affiliation_id}", "display": official["affiliation"]},
        "code": [{"text": official["role"]}],
    }
    contact = {
        "resourceType": "PractitionerRole",
        "id": _id("prr-", f"{practitioner_id}|{site_contact['role']}|{location_id}"),
        "practitioner": {"reference": f"Practitioner/{practitioner_id}", "display": site_contact["name"]},
        "location": [{"reference": f"Location/{location_id}", "display": site["facility"]}],
        "code": [{"text": site_contact["role"]}],
        "telecom": [
            {"system": "phone", "value": site_contact["phone"], "use": "work"},
            {"system": "email", "value": site_contact["email"], "use": "work"},
        ],
    }
    investigator = {
        "resourceType": "PractitionerRole",
        "id": _id("prr-", f"{practitioner_id}|{site_investigator['role']}|{location_id}"),
        "practitioner": {"reference": f"Practitioner/{practitioner_id}", "display": site_investigator["name"]},
        "location": [{"reference": f"Location/{location_id}", "display": site["facility"]}],
        "code": [{"text": site_investigator["role"]}],
    }
    organizations = [
        {"resourceType": "Organization", "id": _id("org-", name), "active": True, "name": name}
        for name in (sponsor, official["affiliation"])
    ]
    status = {
        "url": SITE_STATUS_EXTENSION,
        "valueCoding": {"system": RECRUITMENT_STATUS_SYSTEM, "code": site["status"], "display": "Recruiting"},
    }
    site_ref = {"reference": f"Location/{location_id}", "display": site["facility"], "extension": [status]}
    reference = record["referencesModule"]["references"][0]  # PMID 37593227, DERIVED
    parties = [
        ("study-chair", official["name"], chair),
        ("recruitment-contact", site_contact["name"], contact),
        ("primary-investigator", site_investigator["name"], investigator),
    ]
    party = [
        {
            "name": name,
            "role": {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": role}]},
            "party": {"reference": f"PractitionerRole/{who['id']}"},
        }
        for role, name, who in parties
    ]
    return {
        "record": record,
        "resources": [location, practitioner, chair, contact, investigator, *organizations],
        "site": site_ref,
        "reference": reference,
        "parties": party,
        "region": {"coding": [{"system": ISO3166_SYSTEM, "code": "CN", "display": "China"}], "text": "China"},
        "group_id": f"elig-{NCT}",
        "criteria": record["eligibilityModule"]["eligibilityCriteria"],
        "outcome": record["outcomesModule"]["primaryOutcomes"][0],  # ORR, up to approximately 2 years
    }


def r5() -> list[dict[str, Any]]:
    """The record's resources shaped for R5."""
    parts = _parts()
    reference, outcome = parts["reference"], parts["outcome"]
    study = {
        "resourceType": "ResearchStudy",
        "id": NCT,
        "title": parts["record"]["identificationModule"]["briefTitle"],
        "status": "active",
        "relatedArtifact": [
            {
                "type": "citation",
                "classifier": [{"coding": [{"system": REFERENCE_TYPE_SYSTEM, "code": reference["type"]}]}],
                "citation": reference["citation"],
                "document": {"url": f"{PUBMED}{reference['pmid']}/"},
            }
        ],
        "region": [parts["region"]],
        "site": [parts["site"]],
        "associatedParty": parts["parties"],
        "recruitment": {"eligibility": {"reference": f"Group/{parts['group_id']}"}},
        "outcomeMeasure": [
            {
                "extension": [{"url": TIME_FRAME_EXTENSION, "valueString": outcome["timeFrame"]}],
                "name": outcome["measure"],
                "description": outcome["description"],
            }
        ],
    }
    group = {
        "resourceType": "Group",
        "id": parts["group_id"],
        "type": "person",
        "membership": "definitional",
        "description": parts["criteria"],
    }
    for role in parts["resources"]:
        if role["resourceType"] == "PractitionerRole" and "telecom" in role:
            role["contact"] = [{"telecom": role.pop("telecom")}]  # R5 PractitionerRole has no telecom of its own
    return [study, group, *parts["resources"]]


def r4() -> list[dict[str, Any]]:
    """The record's resources shaped for R4 and R4B (the same shape)."""
    parts = _parts()
    reference, outcome = parts["reference"], parts["outcome"]
    cross_version = [
        {
            "url": XVER + "associatedParty",
            "extension": [
                {"url": "name", "valueString": party["name"]},
                {"url": "role", "valueCodeableConcept": party["role"]},
                {"url": "party", "valueReference": party["party"]},
            ],
        }
        for party in parts["parties"]
    ]
    cross_version.append(
        {
            "url": XVER + "outcomeMeasure",
            "extension": [
                {"url": "name", "valueString": outcome["measure"]},
                {"url": "description", "valueMarkdown": outcome["description"]},
                {"url": TIME_FRAME_EXTENSION, "valueString": outcome["timeFrame"]},
            ],
        }
    )
    central = parts["record"]["contactsLocationsModule"]["centralContacts"][0]
    study = {
        "resourceType": "ResearchStudy",
        "id": NCT,
        "extension": cross_version,
        "title": parts["record"]["identificationModule"]["briefTitle"],
        "status": "active",
        "relatedArtifact": [
            {
                "extension": [
                    {
                        "url": REFERENCE_TYPE_EXTENSION,
                        "valueCoding": {
                            "system": REFERENCE_TYPE_SYSTEM,
                            "code": reference["type"],
                            "display": "Derived",
                        },
                    }
                ],
                "type": "citation",
                "citation": reference["citation"],
                "url": f"{PUBMED}{reference['pmid']}/",
            }
        ],
        "location": [parts["region"]],
        "site": [parts["site"]],
        "contact": [
            {
                "name": central["name"],
                "telecom": [
                    {"system": "phone", "value": central["phone"], "use": "work"},
                    {"system": "email", "value": central["email"], "use": "work"},
                ],
            }
        ],
        "enrollment": [{"reference": f"Group/{parts['group_id']}"}],
    }
    group = {
        "resourceType": "Group",
        "id": parts["group_id"],
        "extension": [{"url": ELIGIBILITY_CRITERIA_EXTENSION, "valueMarkdown": parts["criteria"]}],
        "type": "person",
        "actual": False,
        "name": "Eligibility: " + parts["record"]["identificationModule"]["briefTitle"],
    }
    return [study, group, *parts["resources"]]
