"""FHIR ResearchStudy (R5, R4B or R4) back into canonical fields: everything the export carries.

Sites, people, eligibility and the interventions' details live partly in the resources a study refers
to (Location, PractitionerRole, Group, PlanDefinition): ``resolve`` finds those among the resources
read with the study (a Bundle's entries, the NDJSON files beside it). What cannot be found is said in a
diagnostic, never guessed. Codings come back with origin ``registry`` (FHIR does not say where a code
came from); the mapping adds the curated ones again, so a round trip keeps the same codes. What FHIR
does not carry (the interventions each arm lists; of eligibility, the healthy-volunteers flag, the age
groups, the study population and sampling method) does not come back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trialport.fhir.codes import (
    CELL_THERAPY_SYSTEM,
    CONTACT_ELEMENT,
    ELIGIBILITY_CRITERIA_EXTENSION,
    INTERVENTION_ARM_EXTENSION,
    INTERVENTION_OTHER_NAME_EXTENSION,
    NCT_SYSTEM,
    OFFICIAL_ELEMENT,
    OFFICIAL_ROLES,
    OUTCOME_TYPES,
    PHASES,
    PUBMED,
    R4_ONLY_ELEMENTS,
    REFERENCE_TYPE_EXTENSION,
    REFERENCE_TYPE_SYSTEM,
    SITE_CONTACT_ELEMENT,
    SITE_CONTACT_ROLES,
    SITE_POSTAL_CODE_EXTENSION,
    SITE_STATUS_EXTENSION,
    STATES,
    TIME_FRAME_EXTENSION,
    XVER,
)
from trialport.mapping.terminology import HGNC
from trialport.model import INTERVENTION_TYPES

# A reference ("Location/loc-…") → the resource it names among those read, or None.
Resolve = Callable[[str], dict[str, Any] | None]

_PHASES = {code: list(phases) for phases, code in PHASES.items()}
_STATES = {code: status for status, code in STATES.items()}
_KINDS = {code: kind for kind, code in OUTCOME_TYPES.items()}


def _codes(concept: dict[str, Any], skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"system": c["system"], "code": c["code"], "display": c.get("display"), "origin": "registry"}
        for c in concept.get("coding", [])
        if c.get("system") and c.get("code") and c["system"] not in skip
    ]


def _first_code(concept: dict[str, Any] | None) -> str | None:
    return next((c.get("code") for c in (concept or {}).get("coding", [])), None)


def _extensions(resource: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e.get("url") == XVER + name]


def _parts(extension: dict[str, Any]) -> dict[str, Any]:
    """A complex extension's parts by url: the value of each (one value per part name)."""
    found = {}
    for part in extension.get("extension", []):
        value = next((v for k, v in part.items() if k.startswith("value")), None)
        found.setdefault(part["url"], value)
    return found


def fields(study: dict[str, Any], resolve: Resolve | None = None) -> tuple[dict[str, Any], str | None]:
    """Canonical fields of one ResearchStudy, and its NCT number; ``resolve`` finds what it refers to."""
    r4b = "outcomeMeasure" not in study and (
        any(key in study for key in R4_ONLY_ELEMENTS)
        or any(e.get("url", "").startswith(XVER) for e in study.get("extension", []))
    )
    nct = next((i["value"] for i in study.get("identifier", []) if i.get("system") == NCT_SYSTEM), None)
    identifiers = []
    for identifier in study.get("identifier", []):
        if identifier.get("system") == NCT_SYSTEM:
            identifiers.append({"system": NCT_SYSTEM, "value": identifier["value"], "type": "NCT"})
        else:
            identifiers.append(
                {
                    "system": identifier.get("assigner", {}).get("display"),
                    "value": identifier["value"],
                    "type": identifier.get("type", {}).get("text"),
                }
            )
    labels = study.get("label") or [_parts(e) for e in _extensions(study, "label")]
    label = {_first_code(lab.get("type")): lab.get("value") for lab in labels}

    outcomes = []
    measures = study.get("outcomeMeasure") or [
        {
            **_parts(e),
            "type": [_parts(e)["type"]] if "type" in _parts(e) else [],
            "extension": [p for p in e.get("extension", []) if p.get("url") == TIME_FRAME_EXTENSION],
        }
        for e in _extensions(study, "outcomeMeasure")
    ]
    for measure in measures:
        time_frame = next(
            (e["valueString"] for e in measure.get("extension", []) if e.get("url") == TIME_FRAME_EXTENSION), None
        )
        outcomes.append(
            {
                "kind": _KINDS.get(_first_code((measure.get("type") or [{}])[0]), "other"),
                "measure": measure.get("name"),
                "description": measure.get("description"),
                "time_frame": {"text": time_frame} if time_frame else None,
            }
        )

    design = {}
    for concept in study.get("studyDesign") or study.get("category") or []:
        name, _, value = (concept.get("text") or "").partition(": ")
        design[name.replace(" ", "_")] = value
    study_type = design.pop("study_type", None)

    states = [p["state"] for p in study.get("progressStatus", [])] or [
        _parts(e).get("state") for e in _extensions(study, "progressStatus")
    ]
    state = _first_code(states[0]) if states else None
    summary = study.get("descriptionSummary") or next(
        (e.get("valueMarkdown") for e in _extensions(study, "descriptionSummary")), None
    )
    description = study.get("description")
    if r4b and summary is None:  # the export's R4B description is the summary when there is nothing more
        summary, description = description, None

    parties = study.get("associatedParty") or [
        {**_parts(e), "id": e.get("id")} for e in _extensions(study, "associatedParty")
    ]
    sponsor = next((p.get("name") for p in parties if _first_code(p.get("role")) == "lead-sponsor"), None)
    recruitment = study.get("recruitment") or next((_parts(e) for e in _extensions(study, "recruitment")), {})
    enrollment = None
    if "actualNumber" in recruitment:
        enrollment = {"count": recruitment["actualNumber"], "type": "ACTUAL"}
    elif "targetNumber" in recruitment:
        enrollment = {"count": recruitment["targetNumber"], "type": "ESTIMATED"}
    period = study.get("period") or {}

    interventions = []
    for focus in study.get("focus", []):
        concept = focus.get("concept", focus)
        text = concept.get("text") or ""
        kind, _, name = text.partition(": ")
        if not name or kind not in INTERVENTION_TYPES:  # "<TYPE>: <name>", or the name alone
            kind, name = None, text
        codes = _codes(concept)
        interventions.append(
            {
                "type": kind,
                "name": name,
                "codes": [c for c in codes if c["system"] != HGNC],
                "targets": [c for c in codes if c["system"] == HGNC],
            }
        )

    raw = {
        "identifiers": identifiers,
        "title": study.get("title"),
        "official_title": label.get("official"),
        "acronym": label.get("acronym"),
        "brief_summary": summary,
        "detailed_description": description,
        "conditions": [
            {"name": c.get("text"), "codes": _codes(c)} for c in study.get("condition", []) if c.get("text")
        ],
        "keywords": [
            k["text"]
            for k in study.get("keyword", [])
            if k.get("text") and not any(c.get("system") in (HGNC, CELL_THERAPY_SYSTEM) for c in k.get("coding", []))
        ],
        "interventions": interventions,
        "outcomes": [o for o in outcomes if o["measure"]],
        "phases": _PHASES.get(_first_code(study.get("phase")), []),
        "study_type": study_type,
        "status": _STATES.get(state),
        "sponsor": sponsor,
        "collaborators": [p.get("name") for p in parties if _first_code(p.get("role")) == "collaborator"],
        "enrollment": enrollment,
        "dates": {"start": period.get("start"), "completion": period.get("end")},
        "design": design or None,
        "arms": [
            {"label": g.get("name"), "type": (g.get("type") or {}).get("text"), "description": g.get("description")}
            for g in study.get("comparisonGroup") or study.get("arm") or []
        ],
        "diagnostics": [],
    }
    _places_and_people(study, parties, resolve or _nothing, raw)
    return raw, nct


def _nothing(reference: str) -> None:
    return None


_ROLES = {code: role for role, code in SITE_CONTACT_ROLES.items()}  # research-study-party-role → API v2


def _places_and_people(study: dict[str, Any], parties: list[dict[str, Any]], resolve: Resolve, raw: dict) -> None:
    """Sites, central contacts, officials, references, links, why stopped, the criteria and the
    interventions' PlanDefinitions, into ``raw``."""
    missing: list[str] = []

    def find(reference: dict[str, Any] | None) -> dict[str, Any]:
        target = (reference or {}).get("reference")
        if not target:
            return {}
        found = resolve(target)
        if found is None:
            missing.append(target)
        return found or {}

    sites, by_location = [], {}
    for ref in study.get("site") or []:
        extensions = {e.get("url"): e for e in ref.get("extension", [])}
        place = find(ref)
        address = place.get("address") or {}
        position = place.get("position") or {}
        latitude, longitude = position.get("latitude"), position.get("longitude")
        sites.append(
            {
                "facility": ref.get("display") or place.get("name"),
                "status": (extensions.get(SITE_STATUS_EXTENSION, {}).get("valueCoding") or {}).get("code"),
                "city": address.get("city"),
                "state": address.get("state"),
                "zip": extensions.get(SITE_POSTAL_CODE_EXTENSION, {}).get("valueString"),
                "country": address.get("country"),
                "geo": {"lat": latitude, "lon": longitude} if latitude is not None and longitude is not None else None,
                "contacts": [],
            }
        )
        by_location.setdefault(ref.get("reference"), sites[-1])

    central_details = iter(study.get("contact") or [])  # R4 / R4B: the central contacts again, in order
    contacts, officials = [], []
    for party in parties:
        code = _first_code(party.get("role"))
        if code in ("lead-sponsor", "collaborator"):
            continue
        reference = party.get("party") or {}
        role = find(reference) if "PractitionerRole/" in (reference.get("reference") or "") else {}
        kind, site = _which(party.get("id") or "", code, role, sites, by_location)
        person = {
            "name": party.get("name"),
            # the registry's role is the PractitionerRole's; without it, the party role's API v2 value
            "role": next((c.get("text") for c in role.get("code") or []), None) if role else _ROLES.get(code or ""),
            **_telecom(role.get("telecom") or [t for c in role.get("contact") or [] for t in c.get("telecom") or []]),
        }
        if kind == "site":
            site["contacts"].append(person)
        elif kind == "contact":
            detail = next(central_details, None)
            if not role and detail:  # the PractitionerRole not at hand: R4's ContactDetail has the telecom
                person.update(_telecom(detail.get("telecom") or []))
            contacts.append(person)
        elif kind == "official" and person["name"]:
            if not role and not code:  # a role without a code: its text, unless the placeholder
                person["role"] = (party.get("role") or {}).get("text")
                person["role"] = None if person["role"] == "official" else person["role"]
            affiliation = (role.get("organization") or {}).get("display")
            officials.append({"name": person["name"], "affiliation": affiliation, "role": person["role"]})

    raw["locations"] = sites
    raw["contacts"] = contacts
    raw["officials"] = officials
    raw["references"], raw["links"] = _artifacts(study.get("relatedArtifact") or [])
    raw["why_stopped"] = (study.get("whyStopped") or study.get("reasonStopped") or {}).get("text")
    eligibility = (study.get("recruitment") or {}).get("eligibility") or next(iter(study.get("enrollment") or []), None)
    if eligibility:
        group = find(eligibility)
        criteria = group.get("description") or next(
            (
                e.get("valueMarkdown")
                for e in group.get("extension", [])
                if e.get("url") == ELIGIBILITY_CRITERIA_EXTENSION
            ),
            None,
        )
        if criteria:
            raw["eligibility"] = {"criteria": criteria}
    if protocol := study.get("protocol"):
        _plans([(ref, find(ref)) for ref in protocol], raw)
    if missing:
        shown = ", ".join(dict.fromkeys(missing[:3]))
        raw["diagnostics"].append(
            {
                "level": "warning",
                "code": "fhir-reference-not-found",
                "field": None,
                "message": f"{len(missing)} referenced resources not among those read ({shown}"
                + (", …" if len(missing) > 3 else "")
                + "): what they hold (addresses, phones, emails, affiliations, criteria, interventions' "
                + "descriptions, other names and arms) is not read",
            }
        )


def _plans(plans: list[tuple[dict[str, Any], dict[str, Any]]], raw: dict[str, Any]) -> None:
    """Each intervention's description, other names and arms from its PlanDefinition. The export lists
    one plan per intervention, in the order of ``focus``: a plan goes to the intervention at its own
    position when the names agree, else to the first one of its title not yet given a plan; a plan of
    no intervention in ``focus`` is an intervention of its own (its type from ``topic``)."""
    interventions, planned = raw["interventions"], set()
    for position, (ref, plan) in enumerate(plans):
        if not plan:
            continue  # not at hand: counted among the missing references
        title = plan.get("title") or ref.get("display")
        if not title:
            raw["diagnostics"].append(
                {
                    "level": "warning",
                    "code": "fhir-plan-without-title",
                    "field": "interventions",
                    "message": f"{ref.get('reference')} has no title: not read as an intervention",
                }
            )
            continue
        if position < len(interventions) and position not in planned and interventions[position]["name"] == title:
            index = position
        else:
            index = next(
                (i for i, x in enumerate(interventions) if i not in planned and x["name"] == title), len(interventions)
            )
        if index == len(interventions):
            kind = next((t.get("text") for t in plan.get("topic") or []), None)
            interventions.append(
                {"type": kind if kind in INTERVENTION_TYPES else None, "name": title, "codes": [], "targets": []}
            )
        planned.add(index)
        values: dict[str, list[str]] = {INTERVENTION_OTHER_NAME_EXTENSION: [], INTERVENTION_ARM_EXTENSION: []}
        for extension in plan.get("extension") or []:
            if extension.get("url") in values and extension.get("valueString"):
                values[extension["url"]].append(extension["valueString"])
        interventions[index].update(
            description=plan.get("description"),
            other_names=values[INTERVENTION_OTHER_NAME_EXTENSION],
            arm_labels=values[INTERVENTION_ARM_EXTENSION],
        )


def _which(
    element: str, code: str | None, role: dict[str, Any], sites: list[dict], by_location: dict
) -> tuple[str | None, dict | None]:
    """Which of the study's people a party is: by its element id (``site-2-contact-1``, ``contact-1``,
    ``official-1``) as the export writes it; else by its PractitionerRole's location and its role code."""
    if element.startswith(SITE_CONTACT_ELEMENT):
        number = element[len(SITE_CONTACT_ELEMENT) :].partition("-")[0]
        if number.isdigit() and 0 < int(number) <= len(sites):
            return "site", sites[int(number) - 1]
    elif element.startswith(CONTACT_ELEMENT):
        return "contact", None
    elif element.startswith(OFFICIAL_ELEMENT):
        return "official", None
    where = role.get("location")
    site = by_location.get(where[0].get("reference")) if where else None
    if site is not None:
        return "site", site
    if code in ("recruitment-contact", "general-contact"):
        return "contact", None
    if code in OFFICIAL_ROLES.values():
        return "official", None
    return None, None


def _telecom(telecom: list[dict[str, Any]]) -> dict[str, str | None]:
    phone = next((t.get("value") for t in telecom if t.get("system") == "phone"), None)
    email = next((t.get("value") for t in telecom if t.get("system") == "email"), None)
    return {"phone": phone, "email": email}


def _artifacts(artifacts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Citations back into references (a PubMed page's PMID, the reference type), documentation into links."""
    references, links = [], []
    for artifact in artifacts:
        url = artifact.get("url") or (artifact.get("document") or {}).get("url")
        if artifact.get("type") == "citation":
            kind = next(
                (
                    e.get("valueCoding", {}).get("code")
                    for e in artifact.get("extension", [])
                    if e.get("url") == REFERENCE_TYPE_EXTENSION
                ),
                None,
            ) or next(
                (
                    c.get("code")
                    for k in artifact.get("classifier", [])
                    for c in k.get("coding", [])
                    if c.get("system") == REFERENCE_TYPE_SYSTEM
                ),
                None,
            )
            pmid = url[len(PUBMED) :].rstrip("/") if url and url.startswith(PUBMED) else None
            if pmid or artifact.get("citation"):
                references.append({"pmid": pmid or None, "citation": artifact.get("citation"), "type": kind})
        elif artifact.get("type") == "documentation" and url:
            links.append({"label": artifact.get("display"), "url": url})
    return references, links
