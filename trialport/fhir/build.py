"""The canonical model as FHIR resources: plain dicts on the hot path (fhir.resources checks them in
tests and under ``--validate``). One ResearchStudy per trial, plus an Organization per sponsor or
collaborator, referenced. Ids are stable: the trial id, and a hash of the organisation's name."""

from __future__ import annotations

import hashlib
from typing import Any

from trialport.fhir.codes import (
    CELL_THERAPY_SYSTEM,
    FOCUS_TYPE_SYSTEM,
    NCT_SYSTEM,
    OBJECTIVE_TYPE_SYSTEM,
    OUTCOME_TYPES,
    PARTY_ROLE_SYSTEM,
    PHASE_SYSTEM,
    PHASES,
    PURPOSE_SYSTEM,
    PURPOSES,
    R4B_STATUS,
    STATE_SYSTEM,
    STATES,
    TIME_FRAME_EXTENSION,
    TITLE_TYPE_SYSTEM,
    XVER,
)
from trialport.mapping.terminology import intervention_types
from trialport.model import Coding, Outcome, Trial

Resource = dict[str, Any]


def organization_id(name: str) -> str:
    return "org-" + hashlib.sha256(name.casefold().encode("utf-8")).hexdigest()[:16]


def organization(name: str) -> Resource:
    return {"resourceType": "Organization", "id": organization_id(name), "active": True, "name": name}


def resources(trial: Trial, version: str) -> list[Resource]:
    """The ResearchStudy of ``trial`` in ``version`` (R5 or R4B), then its Organizations."""
    study = research_study_r5(trial) if version == "R5" else research_study_r4b(trial)
    parties = [p for p in [trial.sponsor, *trial.collaborators] if p]
    return [study, *(organization(name) for name in dict.fromkeys(parties))]


def _coding(c: Coding) -> dict[str, str]:
    return {k: v for k, v in (("system", c.system), ("code", c.code), ("display", c.display)) if v}


def _concept(text: str | None = None, codings: list[dict[str, str]] | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept


def _identifiers(trial: Trial) -> list[dict[str, Any]]:
    found = []
    for identifier in trial.identifiers:
        entry: dict[str, Any] = {"value": identifier.value}
        if identifier.type == "NCT":
            entry |= {"system": NCT_SYSTEM, "use": "official"}
        else:
            if identifier.type:
                entry["type"] = {"text": identifier.type}
            if identifier.system:
                entry["assigner"] = {"display": identifier.system}
        found.append(entry)
    return found


def _phase(trial: Trial, version: str) -> dict[str, Any] | None:
    code = PHASES.get(tuple(trial.phases))
    if not code:
        return _concept(", ".join(trial.phases)) if trial.phases else None
    return _concept(", ".join(trial.phases), [{"system": PHASE_SYSTEM[version], "code": code}])


def _purpose(trial: Trial, version: str) -> dict[str, Any] | None:
    purpose = trial.design.primary_purpose if trial.design else None
    if not purpose:
        return None
    code = PURPOSES.get(purpose)
    return _concept(purpose, [{"system": PURPOSE_SYSTEM[version], "code": code}] if code else None)


def _period(trial: Trial) -> dict[str, str] | None:
    period = {"start": trial.dates.start, "end": trial.dates.completion}
    return {k: v for k, v in period.items() if v} or None


def _time_frame(outcome: Outcome) -> list[dict[str, Any]]:
    if not outcome.time_frame:
        return []
    return [{"url": TIME_FRAME_EXTENSION, "valueString": outcome.time_frame.text}]


def _design(trial: Trial) -> list[dict[str, Any]]:
    """Study type and design as text concepts ("allocation: RANDOMIZED"), read back by ``fhir.read``."""
    parts = {"study_type": trial.study_type, **(trial.design.model_dump() if trial.design else {})}
    return [_concept(f"{name.replace('_', ' ')}: {value}") for name, value in parts.items() if value]


def _focus_concept(intervention) -> dict[str, Any]:
    text = f"{intervention.type}: {intervention.name}" if intervention.type else intervention.name
    return _concept(text, [_coding(c) for c in intervention.codes + intervention.targets] or None)


def cell_therapy_concepts(trial: Trial) -> list[dict[str, Any]]:
    """CAR features as coded concepts (classifier in R5, keyword in R4B); ``fhir.read`` leaves them out
    of the keywords, since the mapping derives them again."""
    if not trial.cell_therapy:
        return []
    modality = trial.cell_therapy.modality
    concepts = [_concept(modality, [{"system": CELL_THERAPY_SYSTEM, "code": modality}])] if modality else []
    return concepts + [_concept(c.display, [_coding(c)]) for c in trial.cell_therapy.targets]


def _drop_empty(resource: Resource) -> Resource:
    return {k: v for k, v in resource.items() if v not in (None, [], {}, "")}


def research_study_r5(trial: Trial) -> Resource:
    labels = []
    if trial.official_title:
        labels.append(
            {"type": _concept(None, [{"system": TITLE_TYPE_SYSTEM, "code": "official"}]), "value": trial.official_title}
        )
    if trial.acronym:
        labels.append(
            {"type": _concept(None, [{"system": TITLE_TYPE_SYSTEM, "code": "acronym"}]), "value": trial.acronym}
        )
    state = STATES.get(trial.status or "")
    progress = (
        [{"state": _concept(trial.status, [{"system": STATE_SYSTEM, "code": state}]), "actual": True}] if state else []
    )
    enrollment = trial.enrollment
    recruitment = None
    if enrollment and enrollment.count is not None:
        key = "actualNumber" if enrollment.type == "ACTUAL" else "targetNumber"
        recruitment = {key: enrollment.count}
    parties = [("lead-sponsor", trial.sponsor)] + [("collaborator", c) for c in trial.collaborators]
    types = intervention_types()
    return _drop_empty(
        {
            "resourceType": "ResearchStudy",
            "id": trial.id,
            "identifier": _identifiers(trial),
            "title": trial.title,
            "label": labels,
            "status": "active",
            "descriptionSummary": trial.brief_summary,
            "description": trial.detailed_description,
            "condition": [_concept(c.name, [_coding(x) for x in c.codes] or None) for c in trial.conditions],
            "keyword": [_concept(k) for k in trial.keywords],
            "focus": [{"concept": _focus_concept(i)} for i in trial.interventions],
            "phase": _phase(trial, "R5"),
            "primaryPurposeType": _purpose(trial, "R5"),
            "studyDesign": _design(trial),
            "classifier": [
                _concept(None, [{"system": FOCUS_TYPE_SYSTEM, "code": code}])
                for code in dict.fromkeys(
                    types[i.type]["fhir_focus_code"] for i in trial.interventions if i.type in types
                )
            ]
            + cell_therapy_concepts(trial),
            "progressStatus": progress,
            "recruitment": recruitment,
            "period": _period(trial),
            "associatedParty": [
                {
                    "name": name,
                    "role": _concept(None, [{"system": PARTY_ROLE_SYSTEM, "code": role}]),
                    "party": {"reference": f"Organization/{organization_id(name)}", "display": name},
                }
                for role, name in parties
                if name
            ],
            "comparisonGroup": [
                _drop_empty(
                    {"name": a.label, "type": _concept(a.type) if a.type else None, "description": a.description}
                )
                for a in trial.arms
            ],
            "outcomeMeasure": [
                _drop_empty(
                    {
                        "extension": _time_frame(o),
                        "name": o.measure,
                        "type": [_concept(None, [{"system": OBJECTIVE_TYPE_SYSTEM, "code": OUTCOME_TYPES[o.kind]}])],
                        "description": o.description,
                    }
                )
                for o in trial.outcomes
            ],
        }
    )


def research_study_r4b(trial: Trial) -> Resource:
    """R4B has no label, descriptionSummary, outcomeMeasure, recruitment, associatedParty or progress
    states: those travel in HL7's cross-version extensions for the R5 elements, so nothing is dropped."""
    r5 = research_study_r5(trial)
    extensions = []
    for label in r5.get("label", []):
        extensions.append(
            {
                "url": XVER + "label",
                "extension": [
                    {"url": "type", "valueCodeableConcept": label["type"]},
                    {"url": "value", "valueString": label["value"]},
                ],
            }
        )
    if trial.brief_summary and trial.detailed_description:
        # with no detailed description, the summary is the description itself (and this extension absent)
        extensions.append({"url": XVER + "descriptionSummary", "valueMarkdown": trial.brief_summary})
    for outcome in r5.get("outcomeMeasure", []):
        parts = [{"url": "name", "valueString": outcome["name"]}]
        parts += [{"url": "type", "valueCodeableConcept": t} for t in outcome.get("type", [])]
        if "description" in outcome:
            parts.append({"url": "description", "valueMarkdown": outcome["description"]})
        extensions.append({"url": XVER + "outcomeMeasure", "extension": parts + outcome.get("extension", [])})
    if "recruitment" in r5:
        ((key, number),) = r5["recruitment"].items()
        extensions.append({"url": XVER + "recruitment", "extension": [{"url": key, "valueUnsignedInt": number}]})
    for party in r5.get("associatedParty", []):
        extensions.append(
            {
                "url": XVER + "associatedParty",
                "extension": [
                    {"url": "name", "valueString": party["name"]},
                    {"url": "role", "valueCodeableConcept": party["role"]},
                    {"url": "party", "valueReference": party["party"]},
                ],
            }
        )
    for progress in r5.get("progressStatus", []):
        extensions.append(
            {
                "url": XVER + "progressStatus",
                "extension": [
                    {"url": "state", "valueCodeableConcept": progress["state"]},
                    {"url": "actual", "valueBoolean": True},
                ],
            }
        )
    status = R4B_STATUS.get(trial.status or "", "active" if not trial.status else "closed-to-accrual")
    sponsor = next(
        (p["party"] for p in r5.get("associatedParty", []) if p["role"]["coding"][0]["code"] == "lead-sponsor"), None
    )
    return _drop_empty(
        {
            "resourceType": "ResearchStudy",
            "id": trial.id,
            "extension": extensions,
            "identifier": r5.get("identifier"),
            "title": trial.title,
            "status": status,
            "primaryPurposeType": _purpose(trial, "R4B"),
            "phase": _phase(trial, "R4B"),
            "category": r5.get("studyDesign"),
            "focus": [f["concept"] for f in r5.get("focus", [])],
            "condition": r5.get("condition"),
            "keyword": [*r5.get("keyword", []), *cell_therapy_concepts(trial)],
            "description": trial.detailed_description or trial.brief_summary,
            "period": r5.get("period"),
            "sponsor": sponsor,
            "arm": [
                _drop_empty(
                    {"name": a.label, "type": _concept(a.type) if a.type else None, "description": a.description}
                )
                for a in trial.arms
            ],
        }
    )
