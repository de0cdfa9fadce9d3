"""The resources a ResearchStudy refers to, and their stable ids: an Organization per sponsor,
collaborator or affiliation, a Location per site, a Practitioner per person, a PractitionerRole per
(person, role, where, phone, email), and the study's eligibility Group.

Organizations, Locations, Practitioners and PractitionerRoles are shared: their ids hash what makes
them the same thing, so a hospital used by 40 studies is one Location, written once. What differs
per study (a site's recruitment status and postal code, who to call there) stays on the study.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, NamedTuple

from trialport.fhir.codes import (
    CONTACT_ELEMENT,
    CONTACT_ROLE,
    ELIGIBILITY_CRITERIA_EXTENSION,
    GENDERS,
    GROUP_ID_PREFIX,
    GROUP_ID_SYSTEM,
    LOCATION_ID_SYSTEM,
    OFFICIAL_ELEMENT,
    OFFICIAL_ROLES,
    ORGANIZATION_ID_SYSTEM,
    PRACTITIONER_ID_SYSTEM,
    PRACTITIONER_ROLE_ID_SYSTEM,
    SITE_CONTACT_ELEMENT,
    SITE_CONTACT_ROLES,
)
from trialport.fhir.eligibility import age_quantity, characteristics
from trialport.model import Trial, normal

Resource = dict[str, Any]


def hash16(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=16384)  # sponsors and collaborators recur across many trials
def organization_id(name: str) -> str:
    return "org-" + hash16(name.casefold())


def organization(name: str) -> Resource:
    oid = organization_id(name)
    return {
        "resourceType": "Organization",
        "id": oid,
        "identifier": [{"system": ORGANIZATION_ID_SYSTEM, "value": oid}],
        "active": True,
        "name": name,
    }


@lru_cache(maxsize=65536)  # a site recurs in every study that names it
def location_id(facility: str | None, city: str | None, state: str | None, country: str | None) -> str:
    """``loc-`` + 16 hex of sha256 of "facility|city|state|country", each part normalised."""
    return "loc-" + hash16(f"{normal(facility)}|{normal(city)}|{normal(state)}|{normal(country)}")


def location(site, lid: str) -> Resource:
    """The place itself, as the first study that names it gives it: no status, no contacts (per study)."""
    resource: Resource = {
        "resourceType": "Location",
        "id": lid,
        "identifier": [{"system": LOCATION_ID_SYSTEM, "value": lid}],
        "status": "active",
    }
    if site.facility:
        resource["name"] = site.facility
    resource["mode"] = "instance"
    address = {}
    if site.city:
        address["city"] = site.city
    if site.state:
        address["state"] = site.state
    if site.zip:
        address["postalCode"] = site.zip
    if site.country:
        address["country"] = site.country
    if address:
        resource["address"] = address
    if site.geo:
        resource["position"] = {"longitude": site.geo.lon, "latitude": site.geo.lat}
    return resource


@lru_cache(maxsize=65536)
def practitioner_id(name: str, detail: str | None) -> str:
    """``pr-`` + 16 hex of sha256 of the normalised name and the normalised affiliation, else email,
    else phone (what tells two people of one name apart)."""
    return "pr-" + hash16(f"{normal(name)}|{normal(detail)}")


@lru_cache(maxsize=65536)
def practitioner_role_id(practitioner: str, role: str | None, where: str, phone: str | None, email: str | None) -> str:
    """``prr-`` + 16 hex of sha256 of practitioner id | role | location or organization id | phone | email."""
    return "prr-" + hash16(f"{practitioner}|{role or ''}|{where}|{phone or ''}|{email or ''}")


class Person(NamedTuple):
    """One of a study's people: a central contact, an official, or a site's contact."""

    element: str  # element id of the study's associatedParty: contact-1, official-2, site-3-contact-1
    code: str | None  # research-study-party-role code (None: an official of a role it has no code for)
    name: str | None
    role: str | None  # as the registry gives it (API v2)
    phone: str | None
    email: str | None
    affiliation: str | None  # an official's organisation
    location: str | None  # a site contact's Location id
    practitioner: str | None  # Practitioner id (None: a contact without a name)
    id: str  # PractitionerRole id


def _person(element, code, name, role, phone, email, affiliation, where_id, location) -> Person:
    practitioner = practitioner_id(name, affiliation or email or phone) if name else None
    rid = practitioner_role_id(practitioner or "", role, where_id, phone, email)
    return Person(element, code, name, role, phone, email, affiliation, location, practitioner, rid)


def people(trial: Trial, site_ids: list[str]) -> list[Person]:
    """Central contacts, officials, then each site's contacts, in the registry's order."""
    found = [
        _person(f"{CONTACT_ELEMENT}{n}", CONTACT_ROLE, c.name, c.role, c.phone, c.email, None, "", None)
        for n, c in enumerate(trial.contacts, 1)
    ]
    for n, official in enumerate(trial.officials, 1):
        affiliation = official.affiliation
        where = organization_id(affiliation) if affiliation else ""
        code = OFFICIAL_ROLES.get(official.role or "")
        found.append(
            _person(f"{OFFICIAL_ELEMENT}{n}", code, official.name, official.role, None, None, affiliation, where, None)
        )
    for number, (site, lid) in enumerate(zip(trial.locations, site_ids, strict=True), 1):
        for n, c in enumerate(site.contacts, 1):
            element = f"{SITE_CONTACT_ELEMENT}{number}-contact-{n}"
            code = SITE_CONTACT_ROLES.get(c.role or "", CONTACT_ROLE)
            found.append(_person(element, code, c.name, c.role, c.phone, c.email, None, lid, lid))
    return found


def telecom(person: Person) -> list[dict[str, str]]:
    telecom = []
    if person.phone:
        telecom.append({"system": "phone", "value": person.phone, "use": "work"})
    if person.email:
        telecom.append({"system": "email", "value": person.email, "use": "work"})
    return telecom


def practitioner(person: Person) -> Resource:
    resource: Resource = {
        "resourceType": "Practitioner",
        "id": person.practitioner,
        "identifier": [{"system": PRACTITIONER_ID_SYSTEM, "value": person.practitioner}],
        "name": [{"text": person.name}],
    }
    if numbers := telecom(person):
        resource["telecom"] = numbers
    return resource


def practitioner_role(person: Person, version: str) -> Resource:
    """R5 keeps telecom in ``contact`` (ExtendedContactDetail); R4 and R4B in ``telecom``."""
    resource: Resource = {
        "resourceType": "PractitionerRole",
        "id": person.id,
        "identifier": [{"system": PRACTITIONER_ROLE_ID_SYSTEM, "value": person.id}],
    }
    if person.practitioner:
        resource["practitioner"] = {"reference": f"Practitioner/{person.practitioner}", "display": person.name}
    if person.affiliation:
        resource["organization"] = {
            "reference": f"Organization/{organization_id(person.affiliation)}",
            "display": person.affiliation,
        }
    if person.role:
        resource["code"] = [{"text": person.role}]
    if person.location:
        resource["location"] = [{"reference": f"Location/{person.location}"}]
    if numbers := telecom(person):
        if version == "R5":
            resource["contact"] = [{"telecom": numbers}]
        else:
            resource["telecom"] = numbers
    return resource


def group_id(trial: Trial) -> str:
    return GROUP_ID_PREFIX + trial.id


def eligibility_group(trial: Trial, version: str) -> Resource | None:
    """The definitional Group of who may take part: the registry's whole criteria block (R5 ``description``;
    R4 and R4B an extension), and each criterion, the age limits and the sex as characteristics. Its id is
    the trial's: editing or reordering the criteria changes the Group, not its id. None when the trial says
    nothing of who may take part."""
    eligibility = trial.eligibility
    criteria = eligibility.criteria if eligibility else None
    traits = characteristics(eligibility)
    if not criteria and not traits:
        return None
    gid = group_id(trial)
    group: Resource = {"resourceType": "Group", "id": gid}
    if criteria and version != "R5":
        group["extension"] = [{"url": ELIGIBILITY_CRITERIA_EXTENSION, "valueMarkdown": criteria}]
    group["identifier"] = [{"system": GROUP_ID_SYSTEM, "value": gid}]
    group["name"] = f"Eligibility: {trial.title}"
    if version == "R5":
        if criteria:
            group["description"] = criteria
        group["type"] = "person"
        group["membership"] = "definitional"
    else:
        group["type"] = "person"
        group["actual"] = False
    if traits:
        group["characteristic"] = traits
    return group


def has_eligibility_group(trial: Trial) -> bool:
    """Whether ``eligibility_group`` writes a Group for the trial (what the study refers to)."""
    e = trial.eligibility
    return bool(
        e
        and (
            e.criteria
            or e.inclusion
            or e.exclusion
            or e.sex in GENDERS
            or age_quantity(e.minimum_age)
            or age_quantity(e.maximum_age)
        )
    )
