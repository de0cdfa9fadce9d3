"""Reader for ClinicalTrials.gov's legacy XML (``<clinical_study>``), one study per file.

Parsed with defusedxml: entity expansion and external entities are refused, so a hostile file can
neither blow up memory nor read local files or the network. Each study is translated to API v2
shape and mapped by ``ctgov_v2``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from trialport.model import Source
from trialport.readers import ctgov_v2
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256


class CtgovXmlReader:
    name = "ctgov-xml"
    description = "ClinicalTrials.gov legacy XML (<clinical_study>), one study per file"
    priority = 30

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<clinical_study" in head

    def read(self, path: Path) -> Iterator[ReadResult]:
        data = path.read_bytes()
        try:
            root = SafeET.fromstring(data, forbid_dtd=True)
        except DefusedXmlException as error:
            yield Rejection(str(path), None, f"refused: {type(error).__name__} (DTDs and entities are not allowed)")
            return
        except ParseError as error:
            yield Rejection(str(path), None, f"invalid XML: {error}")
            return
        if root.tag != "clinical_study":
            yield Rejection(str(path), None, f"root element is <{root.tag}>, not <clinical_study>")
            return
        nct = root.findtext("id_info/nct_id")
        try:
            fields, nct = ctgov_v2.fields(to_v2(root))
            yield assemble(fields, Source(format="ctgov-xml", path=str(path), record=nct, sha256=sha256(data)), nct)
        except (ValueError, TypeError, ValidationError) as error:
            yield Rejection(str(path), nct, f"{type(error).__name__}: {error}".splitlines()[0])


def _text(element: Element | None, path: str) -> str | None:
    """Text of a child element; ``<x><textblock>...</textblock></x>`` blocks give their text unwrapped."""
    found = element.find(path) if element is not None else None
    if found is None:
        return None
    block = found.find("textblock")
    if block is not None:
        return unwrap(block.text or "") or None
    return found.text or None


_LIST_ITEM = re.compile(r"^(?:[-*\u2022o]\s|\d{1,2}[.)]\s|[a-z][.)]\s)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def unwrap(text: str) -> str:
    """Undo the legacy XML's hard wrapping (lines of about 100 characters, indented): lines of one
    paragraph join with a space; blank lines still part paragraphs, and list items keep their lines and
    their indentation (callers that want none strip it; criteria keep it for nested items).
    This gives the text as the API v2 and the website publish it."""
    common = min((len(raw) - len(raw.lstrip(" ")) for raw in text.split("\n") if raw.strip()), default=0)
    paragraphs = []
    for paragraph in _PARAGRAPH_BREAK.split(text.strip("\n")):
        lines: list[str] = []
        for raw in paragraph.split("\n"):
            line = raw.strip()
            if lines and line and not _LIST_ITEM.match(line):
                lines[-1] += " " + line
            elif line:
                lines.append(raw[common:].rstrip())  # indentation past the block's kept: a nested item's depth
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _block(element: Element, path: str) -> str | None:
    """Free text of a child element without a ``textblock`` (``why_stopped``), unwrapped all the same."""
    found = element.find(path)
    if found is None:
        return None
    return unwrap(found.text or "") or None


def _all(element: Element, path: str) -> list[str]:
    return [e.text.strip() for e in element.findall(path) if e.text and e.text.strip()]


def _date(root: Element, tag: str) -> dict[str, Any]:
    return {"date": _text(root, tag)}


def _outcomes(root: Element, tag: str) -> list[dict[str, Any]]:
    return [
        {"measure": _text(o, "measure"), "description": _text(o, "description"), "timeFrame": _text(o, "time_frame")}
        for o in root.findall(tag)
    ]


def _arm(arm: Element, interventions: list[dict[str, Any]]) -> dict[str, Any]:
    """An arm; the XML lists arms on interventions only, so each arm's interventions are gathered
    from there, named as the registry names them elsewhere (``Drug: carboplatin``)."""
    label = _text(arm, "arm_group_label")
    return {
        "label": label,
        "type": _text(arm, "arm_group_type"),
        "description": _text(arm, "description"),
        "interventionNames": [f"{i['type']}: {i['name']}" for i in interventions if label in i["armGroupLabels"]],
    }


def _children(element: Element) -> dict[str, str | None]:
    """The texts of an element's children by tag: one pass, where a path search per field costs a walk each
    (a large study has thousands of sites)."""
    return {child.tag: child.text for child in element}


def _contact(person: Element, role: str | None) -> dict[str, Any]:
    """A contact or an investigator. The registry writes a name whole (with degrees) in ``last_name``;
    older records may split it into ``first_name``, ``middle_name``, ``last_name`` and ``degrees``."""
    parts = _children(person)
    name = " ".join(part for tag in ("first_name", "middle_name", "last_name") if (part := parts.get(tag)))
    degrees = parts.get("degrees")
    return {
        "name": f"{name}, {degrees}" if name and degrees else name or degrees,
        "role": role if role is not None else parts.get("role"),
        "phone": parts.get("phone"),
        "phoneExt": parts.get("phone_ext"),
        "email": parts.get("email"),
    }


def _official(person: Element) -> dict[str, Any]:
    found = _contact(person, None)
    return {"name": found["name"], "affiliation": _text(person, "affiliation"), "role": found["role"]}


# A site's people: its contacts and its investigators (whose role the XML gives: ``None`` reads it there).
_SITE_PEOPLE = {"contact": "CONTACT", "contact_backup": "CONTACT", "investigator": None}


def _location(site: Element) -> dict[str, Any]:
    """A site; the XML has no geo point, so none is given."""
    found: dict[str, str | None] = {}
    contacts = []
    for child in site:
        tag = child.tag
        if tag in _SITE_PEOPLE:
            contacts.append(_contact(child, _SITE_PEOPLE[tag]))
        elif tag == "status":
            found["status"] = child.text
        elif tag == "facility":
            for part in child:
                if part.tag == "name":
                    found["facility"] = part.text
                elif part.tag == "address":
                    found.update(_children(part))
    return {
        "facility": found.get("facility"),
        "status": found.get("status"),
        "city": found.get("city"),
        "state": found.get("state"),
        "zip": found.get("zip"),
        "country": found.get("country"),
        "contacts": contacts,
    }


# ``results_reference`` holds publications of the study's results; ``reference`` the others.
_REFERENCE_TYPES = {"reference": "BACKGROUND", "results_reference": "RESULT"}


def _references(root: Element) -> list[dict[str, Any]]:
    return [
        {"pmid": _text(r, "PMID"), "citation": _text(r, "citation"), "type": _REFERENCE_TYPES[r.tag]}
        for r in root
        if r.tag in _REFERENCE_TYPES
    ]


def to_v2(root: Element) -> dict[str, Any]:
    """A ``<clinical_study>`` element as an API v2 study."""
    design = root.find("study_design_info")
    eligibility = root.find("eligibility")
    enrollment = root.find("enrollment")
    phase = _text(root, "phase")
    interventions = [
        {
            "type": _text(i, "intervention_type"),
            "name": _text(i, "intervention_name"),
            "description": _text(i, "description"),
            "otherNames": _all(i, "other_name"),
            "armGroupLabels": _all(i, "arm_group_label"),
        }
        for i in root.findall("intervention")
    ]
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": _text(root, "id_info/nct_id"),
                "orgStudyIdInfo": {"id": _text(root, "id_info/org_study_id")},
                "organization": {"fullName": _text(root, "sponsors/lead_sponsor/agency")},
                "secondaryIdInfos": [{"id": s} for s in _all(root, "id_info/secondary_id")],
                "briefTitle": _text(root, "brief_title"),
                "officialTitle": _text(root, "official_title"),
                "acronym": _text(root, "acronym"),
            },
            "statusModule": {
                "overallStatus": _text(root, "overall_status"),
                "startDateStruct": _date(root, "start_date"),
                "primaryCompletionDateStruct": _date(root, "primary_completion_date"),
                "completionDateStruct": _date(root, "completion_date"),
                "studyFirstPostDateStruct": _date(root, "study_first_posted"),
                "lastUpdatePostDateStruct": _date(root, "last_update_posted"),
                "whyStopped": _block(root, "why_stopped"),
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": _text(root, "sponsors/lead_sponsor/agency")},
                "collaborators": [{"name": c} for c in _all(root, "sponsors/collaborator/agency")],
            },
            "descriptionModule": {
                "briefSummary": _text(root, "brief_summary"),
                "detailedDescription": _text(root, "detailed_description"),
            },
            "conditionsModule": {"conditions": _all(root, "condition"), "keywords": _all(root, "keyword")},
            "designModule": {
                "studyType": _text(root, "study_type"),
                "phases": [phase] if phase else [],
                "designInfo": {
                    "allocation": _text(design, "allocation"),
                    "interventionModel": _text(design, "intervention_model"),
                    "primaryPurpose": _text(design, "primary_purpose"),
                    "maskingInfo": {"masking": _text(design, "masking")},
                    "observationalModel": _text(design, "observational_model"),
                    "timePerspective": _text(design, "time_perspective"),
                },
                "enrollmentInfo": {
                    "count": enrollment.text if enrollment is not None else None,
                    "type": enrollment.get("type") if enrollment is not None else None,
                },
            },
            "armsInterventionsModule": {
                "armGroups": [_arm(a, interventions) for a in root.findall("arm_group")],
                "interventions": interventions,
            },
            "outcomesModule": {
                "primaryOutcomes": _outcomes(root, "primary_outcome"),
                "secondaryOutcomes": _outcomes(root, "secondary_outcome"),
                "otherOutcomes": _outcomes(root, "other_outcome"),
            },
            "eligibilityModule": {
                "eligibilityCriteria": _text(eligibility, "criteria"),
                "sex": _text(eligibility, "gender"),
                "minimumAge": _text(eligibility, "minimum_age"),
                "maximumAge": _text(eligibility, "maximum_age"),
                "healthyVolunteers": _text(eligibility, "healthy_volunteers"),
                "studyPopulation": _text(eligibility, "study_pop"),
                "samplingMethod": _text(eligibility, "sampling_method"),
            },
            "contactsLocationsModule": {
                "locations": [_location(site) for site in root.findall("location")],
                "centralContacts": [
                    _contact(c, "CONTACT")
                    for tag in ("overall_contact", "overall_contact_backup")
                    for c in root.findall(tag)
                ],
                "overallOfficials": [_official(o) for o in root.findall("overall_official")],
            },
            "referencesModule": {
                "references": _references(root),
                "seeAlsoLinks": [
                    {"label": _text(link, "description"), "url": _text(link, "url")} for link in root.findall("link")
                ],
            },
        }
    }
