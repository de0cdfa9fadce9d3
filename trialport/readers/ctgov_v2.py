"""One ClinicalTrials.gov API v2 study (``protocolSection`` + ``derivedSection``) → canonical fields.

API v2 is the most complete form of a registry record, so the older forms (classic API JSON, legacy
XML, CSV exports) are translated into its shape and mapped here: one mapping, however a record came.
Values may be API v2 enumerations or the older display strings; ``ctgov_values`` normalises both.
"""

from __future__ import annotations

from typing import Any

from trialport.model import Diagnostic
from trialport.readers.ctgov_values import age, as_int, enum, iso_date, phases, yes_no

NCT_SYSTEM = "https://clinicaltrials.gov"
MESH_SYSTEM = "http://id.nlm.nih.gov/mesh"
OUTCOME_KINDS = (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"), ("otherOutcomes", "other"))


def _mesh(module: dict[str, Any]) -> list[dict[str, Any]]:
    """MeSH descriptors the registry assigned (``meshes``); ``browseLeaves`` ids are not MeSH codes."""
    return [
        {"system": MESH_SYSTEM, "code": m["id"], "display": m.get("term"), "origin": "registry"}
        for m in module.get("meshes", [])
        if m.get("id")
    ]


def fields(study: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Canonical fields of one study (``diagnostics`` says what the mapping had to note) and its NCT number."""
    p = study.get("protocolSection")
    if not isinstance(p, dict):
        raise ValueError("no protocolSection")
    derived = study.get("derivedSection", {})
    ident = p.get("identificationModule", {})
    status = p.get("statusModule", {})
    sponsors = p.get("sponsorCollaboratorsModule", {})
    description = p.get("descriptionModule", {})
    conditions = p.get("conditionsModule", {})
    design = p.get("designModule", {})
    info = design.get("designInfo", {})
    arms = p.get("armsInterventionsModule", {})
    eligibility = p.get("eligibilityModule", {})
    nct = ident.get("nctId")
    diagnostics: list[Diagnostic] = []

    identifiers = [{"system": NCT_SYSTEM, "value": nct, "type": "NCT"}] if nct else []
    org = ident.get("orgStudyIdInfo", {}).get("id")
    if org:
        identifiers.append({"system": ident.get("organization", {}).get("fullName"), "value": org, "type": "ORG"})
    for secondary in ident.get("secondaryIdInfos", []):
        if secondary.get("id"):
            kind = secondary.get("type") or "OTHER"
            identifiers.append({"system": secondary.get("domain"), "value": secondary["id"], "type": kind})

    condition_names = conditions.get("conditions", [])
    condition_codes = attribute_codes(
        condition_names, derived.get("conditionBrowseModule", {}), "conditions", diagnostics
    )
    interventions = [i for i in arms.get("interventions", []) if i.get("name")]
    intervention_codes = attribute_codes(
        [i["name"] for i in interventions], derived.get("interventionBrowseModule", {}), "interventions", diagnostics
    )

    outcomes = []
    for key, kind in OUTCOME_KINDS:
        for o in p.get("outcomesModule", {}).get(key, []):
            if not (o.get("measure") or "").strip():
                diagnostics.append(_dropped(f"{kind} outcome without a measure"))
                continue
            time_frame = o.get("timeFrame")
            outcomes.append(
                {
                    "kind": kind,
                    "measure": o["measure"],
                    "description": o.get("description"),
                    "time_frame": {"text": time_frame} if time_frame and time_frame.strip() else None,
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
        text = status.get(key, {}).get("date")
        dates[name] = iso_date(text)
        if text and not dates[name]:
            diagnostics.append(
                Diagnostic(level="warning", code="date", field=f"dates.{name}", message=f"unreadable date {text!r}")
            )

    enrollment = design.get("enrollmentInfo", {})
    raw = {
        "identifiers": identifiers,
        "title": ident.get("briefTitle"),
        "official_title": ident.get("officialTitle"),
        "acronym": ident.get("acronym"),
        "brief_summary": description.get("briefSummary"),
        "detailed_description": description.get("detailedDescription"),
        "conditions": [
            {"name": name, "codes": codes} for name, codes in zip(condition_names, condition_codes, strict=True)
        ],
        "keywords": conditions.get("keywords", []),
        "interventions": [
            {
                "type": enum(i.get("type")),
                "name": i.get("name"),
                "description": i.get("description"),
                "other_names": i.get("otherNames", []),
                "arm_labels": i.get("armGroupLabels", []),
                "codes": codes,
            }
            for i, codes in zip(interventions, intervention_codes, strict=True)
        ],
        "outcomes": outcomes,
        "phases": phases(design.get("phases", [])),
        "study_type": enum(design.get("studyType")),
        "status": enum(status.get("overallStatus")),
        "sponsor": sponsors.get("leadSponsor", {}).get("name"),
        "collaborators": [c.get("name") for c in sponsors.get("collaborators", [])],
        "enrollment": {"count": as_int(enrollment.get("count")), "type": enum(enrollment.get("type"))},
        "dates": dates,
        "design": {
            "allocation": enum(info.get("allocation")),
            "intervention_model": enum(info.get("interventionModel")),
            "masking": enum(info.get("maskingInfo", {}).get("masking")),
            "primary_purpose": enum(info.get("primaryPurpose")),
        },
        "arms": [
            {
                "label": a.get("label"),
                "type": enum(a.get("type")),
                "description": a.get("description"),
                "intervention_names": a.get("interventionNames", []),
            }
            for a in arms.get("armGroups", [])
            if a.get("label")
        ],
        "eligibility": {
            "criteria": eligibility.get("eligibilityCriteria"),
            "sex": enum(eligibility.get("sex")),
            "minimum_age": age(eligibility.get("minimumAge")),
            "maximum_age": age(eligibility.get("maximumAge")),
            "healthy_volunteers": yes_no(eligibility.get("healthyVolunteers")),
        },
        "diagnostics": diagnostics,
    }
    return raw, nct


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
    if len(names) <= 1:
        return [codes for _ in names]
    found_by = {
        (leaf.get("name") or "").casefold(): (leaf.get("asFound") or "").casefold()
        for leaf in browse.get("browseLeaves", [])
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
