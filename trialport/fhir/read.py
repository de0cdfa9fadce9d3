"""FHIR ResearchStudy (R5 or R4B) back into canonical fields: everything the export carries.

Codings come back with origin ``registry`` (FHIR does not say where a code came from); the mapping
adds the curated ones again, so a round trip keeps the same codes. What FHIR cannot carry
(eligibility, which intervention each arm gives) does not come back.
"""

from __future__ import annotations

from typing import Any

from trialport.fhir.codes import (
    CELL_THERAPY_SYSTEM,
    NCT_SYSTEM,
    OUTCOME_TYPES,
    PHASES,
    STATES,
    TIME_FRAME_EXTENSION,
    XVER,
)
from trialport.mapping.terminology import HGNC

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


def fields(study: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Canonical fields of one ResearchStudy, and its NCT number."""
    r4b = "outcomeMeasure" not in study and any(e.get("url", "").startswith(XVER) for e in study.get("extension", []))
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

    parties = study.get("associatedParty") or [_parts(e) for e in _extensions(study, "associatedParty")]
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
        kind, _, name = (concept.get("text") or "").partition(": ")
        if not name:
            kind, name = None, kind
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
    return raw, nct
