"""One ClinicalTrials.gov API v2 study (``protocolSection`` + ``derivedSection``) → canonical fields.

API v2 is the most complete form of a registry record, so the older forms (classic API JSON, legacy
XML, CSV exports) are translated into its shape and mapped here: one mapping, however a record came.
Values may be API v2 enumerations or the older display strings; ``ctgov_values`` normalises both.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from trialport.mapping.text import clean_block as block
from trialport.mapping.text import clean_line as line
from trialport.model import Diagnostic
from trialport.readers.ctgov_values import age, as_int, enum, iso_date, phases, yes_no

NCT_SYSTEM = "https://clinicaltrials.gov"
MESH_SYSTEM = "http://id.nlm.nih.gov/mesh"
OUTCOME_KINDS = (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"), ("otherOutcomes", "other"))


def _mesh(module: dict[str, Any]) -> list[dict[str, Any]]:
    """MeSH descriptors the registry assigned (``meshes``); ``browseLeaves`` ids are not MeSH codes."""
    return [
        {"system": MESH_SYSTEM, "code": m["id"], "display": line(m.get("term")), "origin": "registry"}
        for m in module.get("meshes") or []
        if m.get("id")
    ]


def _names(values: list[str] | None) -> list[str]:
    return [v for v in map(line, values or []) if v]


def _some(values: dict[str, Any]) -> dict[str, Any] | None:
    """A part of the record, or None when the source has none of its fields."""
    return values if any(v is not None and v != [] for v in values.values()) else None


def fields(study: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Canonical fields of one study, its text repaired (``mapping.text``), and its NCT number.
    ``diagnostics`` says what the mapping had to note."""
    p = study.get("protocolSection")
    if not isinstance(p, dict):
        raise ValueError("no protocolSection")
    derived = study.get("derivedSection") or {}
    ident = p.get("identificationModule") or {}
    status = p.get("statusModule") or {}
    sponsors = p.get("sponsorCollaboratorsModule") or {}
    description = p.get("descriptionModule") or {}
    conditions = p.get("conditionsModule") or {}
    design = p.get("designModule") or {}
    info = design.get("designInfo") or {}
    arms = p.get("armsInterventionsModule") or {}
    eligibility = p.get("eligibilityModule") or {}
    places = p.get("contactsLocationsModule") or {}
    references = p.get("referencesModule") or {}
    nct = line(ident.get("nctId"))
    diagnostics: list[Diagnostic] = []

    identifiers = [{"system": NCT_SYSTEM, "value": nct, "type": "NCT"}] if nct else []
    org = line((ident.get("orgStudyIdInfo") or {}).get("id"))
    if org:
        organization = line((ident.get("organization") or {}).get("fullName"))
        identifiers.append({"system": organization, "value": org, "type": "ORG"})
    for secondary in ident.get("secondaryIdInfos") or []:
        if value := line(secondary.get("id")):
            kind = secondary.get("type") or "OTHER"
            identifiers.append({"system": line(secondary.get("domain")), "value": value, "type": kind})

    condition_names = _names(conditions.get("conditions"))
    condition_codes = attribute_codes(
        condition_names, derived.get("conditionBrowseModule") or {}, "conditions", diagnostics
    )
    interventions = [(i, name) for i in arms.get("interventions") or [] if (name := line(i.get("name")))]
    intervention_codes = attribute_codes(
        [name for _, name in interventions], derived.get("interventionBrowseModule") or {}, "interventions", diagnostics
    )

    outcomes = []
    for key, kind in OUTCOME_KINDS:
        for o in (p.get("outcomesModule") or {}).get(key) or []:
            measure = line(o.get("measure"))
            if not measure:
                diagnostics.append(_dropped(f"{kind} outcome without a measure"))
                continue
            time_frame = line(o.get("timeFrame"))
            outcomes.append(
                {
                    "kind": kind,
                    "measure": measure,
                    "description": block(o.get("description")),
                    "time_frame": {"text": time_frame} if time_frame else None,
                }
            )

    dates = {}
    for name, key in (
        ("start", "startDateStruct"),
        ("primary_completion", "primaryCompletionDateStruct"),
        ("completion", "completionDateStruct"),
        ("first_posted", "studyFirstPostDateStruct"),
        ("last_update", "lastUpdatePostDateStruct"),
    ):
        text = (status.get(key) or {}).get("date")
        dates[name] = iso_date(text)
        if text and text.strip().lower() != "null" and not dates[name]:
            diagnostics.append(
                Diagnostic(level="warning", code="date", field=f"dates.{name}", message=f"unreadable date {text!r}")
            )

    enrollment = design.get("enrollmentInfo") or {}
    raw = {
        "identifiers": identifiers,
        "title": line(ident.get("briefTitle")),
        "official_title": line(ident.get("officialTitle")),
        "acronym": line(ident.get("acronym")),
        "brief_summary": block(description.get("briefSummary")),
        "detailed_description": block(description.get("detailedDescription")),
        "conditions": [
            {"name": name, "codes": codes} for name, codes in zip(condition_names, condition_codes, strict=True)
        ],
        "keywords": _names(conditions.get("keywords")),
        "interventions": [
            {
                "type": enum(i.get("type")),
                "name": name,
                "description": block(i.get("description")),
                "other_names": _names(i.get("otherNames")),
                "arm_labels": _names(i.get("armGroupLabels")),
                "codes": codes,
            }
            for (i, name), codes in zip(interventions, intervention_codes, strict=True)
        ],
        "outcomes": outcomes,
        "phases": phases(design.get("phases") or []),
        "study_type": enum(design.get("studyType")),
        "status": enum(status.get("overallStatus")),
        "sponsor": line((sponsors.get("leadSponsor") or {}).get("name")),
        "collaborators": _names([c.get("name") for c in sponsors.get("collaborators") or []]),
        "enrollment": _some({"count": as_int(enrollment.get("count")), "type": enum(enrollment.get("type"))}),
        "dates": dates,
        "design": _some(
            {
                "allocation": enum(info.get("allocation")),
                "intervention_model": enum(info.get("interventionModel")),
                "masking": enum((info.get("maskingInfo") or {}).get("masking")),
                "primary_purpose": enum(info.get("primaryPurpose")),
                "observational_model": enum(info.get("observationalModel")),
                "time_perspective": enum(info.get("timePerspective")),
            }
        ),
        "arms": [
            {
                "label": label,
                "type": enum(a.get("type")),
                "description": block(a.get("description")),
                "intervention_names": _names(a.get("interventionNames")),
            }
            for a in arms.get("armGroups") or []
            if (label := line(a.get("label")))
        ],
        "eligibility": _some(
            {
                "criteria": block(eligibility.get("eligibilityCriteria"), indented=True),
                "sex": enum(eligibility.get("sex")),
                "minimum_age": age(eligibility.get("minimumAge")),
                "maximum_age": age(eligibility.get("maximumAge")),
                "healthy_volunteers": yes_no(eligibility.get("healthyVolunteers")),
                "std_ages": [a for a in map(enum, eligibility.get("stdAges") or []) if a],
                "study_population": block(eligibility.get("studyPopulation")),
                "sampling_method": enum(eligibility.get("samplingMethod")),
            }
        ),
        "why_stopped": block(status.get("whyStopped")),
        "locations": [_location(x) for x in places.get("locations") or [] if isinstance(x, dict)],
        "contacts": [c for c in map(_contact, places.get("centralContacts") or []) if c],
        "officials": [
            {"name": name, "affiliation": line(o.get("affiliation")), "role": enum(o.get("role"))}
            for o in places.get("overallOfficials") or []
            if isinstance(o, dict) and (name := line(o.get("name")))
        ],
        "references": [
            {"pmid": line(r.get("pmid")), "citation": block(r.get("citation")), "type": enum(r.get("type"))}
            for r in references.get("references") or []
            if isinstance(r, dict) and (r.get("pmid") or r.get("citation"))
        ],
        "links": [
            {"label": line(link.get("label")), "url": url}
            for link in references.get("seeAlsoLinks") or []
            if isinstance(link, dict) and (url := line(link.get("url")))
        ],
        "diagnostics": diagnostics,
    }
    return raw, nct


def _contact(contact: dict[str, Any]) -> dict[str, Any] | None:
    """A central or site contact; a phone extension is kept in the phone text (``ext. 12``)."""
    if not isinstance(contact, dict):
        return None
    phone, ext = line(contact.get("phone")), line(contact.get("phoneExt"))
    if ext:
        phone = f"{phone} ext. {ext}" if phone else f"ext. {ext}"
    found = {"name": line(contact.get("name")), "role": enum(contact.get("role")), "phone": phone}
    found["email"] = line(contact.get("email"))
    return found if found["name"] or phone or found["email"] else None


# Facilities, cities, states and countries recur across the registry's half a million site entries.
_place = lru_cache(maxsize=65536)(line)


def _place_of(value: Any) -> str | None:
    return _place(value) if type(value) is str else line(value)


def _location(site: dict[str, Any]) -> dict[str, Any]:
    geo = site.get("geoPoint") or {}
    lat, lon = geo.get("lat"), geo.get("lon")
    if (lat is not None and type(lat) not in (int, float)) or (lon is not None and type(lon) not in (int, float)):
        raise TypeError(f"geoPoint of site {site.get('facility')!r} is not a pair of numbers: {lat!r}, {lon!r}")
    return {
        "facility": _place_of(site.get("facility")),
        "status": enum(site.get("status")),
        "city": _place_of(site.get("city")),
        "state": _place_of(site.get("state")),
        "zip": _place_of(site.get("zip")),
        "country": _place_of(site.get("country")),
        "geo": {"lat": lat, "lon": lon} if lat is not None and lon is not None else None,
        "contacts": [c for c in map(_contact, site.get("contacts") or []) if c],
    }


def attribute_codes(
    names: list[str], browse: dict[str, Any], field: str, diagnostics: list[Diagnostic]
) -> list[list[dict[str, Any]]]:
    """Give each named item the registry MeSH codes that belong to it.

    The registry codes a study's conditions (or interventions) as a whole. A code belongs to an item
    whose name is its term, or whose name holds the text the registry found it by (``browseLeaves``
    ``asFound``). A code that fits no single item is kept on every item, and a diagnostic says so:
    never dropped, never guessed onto one.
    """
    codes = _mesh(browse)
    if len(names) <= 1 or not codes:
        return [codes for _ in names]
    found_by = {
        (leaf.get("name") or "").casefold(): (leaf.get("asFound") or "").casefold()
        for leaf in browse.get("browseLeaves") or []
    }
    folded = [name.casefold() for name in names]
    per_item: list[list[dict[str, Any]]] = [[] for _ in names]
    for code in codes:
        term = (code.get("display") or "").casefold()
        as_found = found_by.get(term, "")
        hits = [i for i, name in enumerate(folded) if name == term or (as_found and as_found in name)]
        if not hits:
            hits = list(range(len(names)))
            diagnostics.append(
                Diagnostic(
                    level="info",
                    code="registry-code-unattributed",
                    field=field,
                    message=f"registry MeSH {code['code']} ({code.get('display')}) fits no single item; kept on each",
                )
            )
        for i in hits:
            per_item[i].append(code)
    return per_item


def _dropped(what: str) -> Diagnostic:
    return Diagnostic(level="warning", code="dropped", field=None, message=f"{what}: left out")
