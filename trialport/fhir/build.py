"""The canonical model as FHIR resources: plain dicts on the hot path (fhir.resources checks them in
tests and under ``--validate``). One ResearchStudy per trial, plus an Organization per sponsor or
collaborator, referenced. Ids are stable: the trial id, and a hash of the organisation's name."""

from __future__ import annotations

import hashlib
from functools import lru_cache
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
from trialport.model import Coding, Design, Outcome, Trial

Resource = dict[str, Any]


@lru_cache(maxsize=16384)  # sponsors and collaborators recur across many trials
def organization_id(name: str) -> str:
    return "org-" + hashlib.sha256(name.casefold().encode("utf-8")).hexdigest()[:16]


def organization(name: str) -> Resource:
    return {"resourceType": "Organization", "id": organization_id(name), "active": True, "name": name}


def resources(trial: Trial, version: str) -> list[Resource]:
    """The ResearchStudy of ``trial`` in ``version`` (R5 or R4B), then its Organizations."""
    study = research_study_r5(trial) if version == "R5" else research_study_r4b(trial)
    parties = [p for p in [trial.sponsor, *trial.collaborators] if p]
    return [study, *(organization(name) for name in dict.fromkeys(parties))]


# The builders below write each dict out in full rather than through small helpers, and leave out an
# empty element as they go (where _drop_empty would filter it after): this runs once a trial, and
# the output is the same, key for key and in the same order.


def _coding(c: Coding) -> dict[str, str]:
    """system, code and display, each when not empty."""
    coding = {}
    if c.system:
        coding["system"] = c.system
    if c.code:
        coding["code"] = c.code
    if c.display:
        coding["display"] = c.display
    return coding


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
        if identifier.type == "NCT":
            entry: dict[str, Any] = {"value": identifier.value, "system": NCT_SYSTEM, "use": "official"}
        else:
            entry = {"value": identifier.value}
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
    dates = trial.dates
    period = {}
    if dates.start:
        period["start"] = dates.start
    if dates.completion:
        period["end"] = dates.completion
    return period or None


# "allocation: RANDOMIZED": each design field's label, in the model's field order
_DESIGN_LABELS = tuple((name, name.replace("_", " ")) for name in Design.model_fields)


def _design(trial: Trial) -> list[dict[str, Any]]:
    """Study type and design as text concepts ("allocation: RANDOMIZED"), read back by ``fhir.read``."""
    found = [{"text": f"study type: {trial.study_type}"}] if trial.study_type else []
    design = trial.design
    if design:
        for name, label in _DESIGN_LABELS:
            if value := getattr(design, name):
                found.append({"text": f"{label}: {value}"})
    return found


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
    return {k: v for k, v in resource.items() if v or v not in (None, [], {}, "")}


def _arm(arm) -> dict[str, Any]:
    group: dict[str, Any] = {}
    if arm.label:
        group["name"] = arm.label
    if arm.type:
        group["type"] = {"text": arm.type}
    if arm.description:
        group["description"] = arm.description
    return group


def _outcome(outcome: Outcome) -> dict[str, Any]:
    measure: dict[str, Any] = {}
    if outcome.time_frame:
        measure["extension"] = [{"url": TIME_FRAME_EXTENSION, "valueString": outcome.time_frame.text}]
    if outcome.measure:
        measure["name"] = outcome.measure
    measure["type"] = [{"coding": [{"system": OBJECTIVE_TYPE_SYSTEM, "code": OUTCOME_TYPES[outcome.kind]}]}]
    if outcome.description:
        measure["description"] = outcome.description
    return measure


def research_study_r5(trial: Trial) -> Resource:
    # Every element is a str, list or dict (or None), so "not empty" is plain truth.
    study: Resource = {"resourceType": "ResearchStudy"}
    if trial.id:
        study["id"] = trial.id
    if trial.identifiers:
        study["identifier"] = _identifiers(trial)
    if trial.title:
        study["title"] = trial.title
    labels = []
    if trial.official_title:
        labels.append(
            {"type": {"coding": [{"system": TITLE_TYPE_SYSTEM, "code": "official"}]}, "value": trial.official_title}
        )
    if trial.acronym:
        labels.append({"type": {"coding": [{"system": TITLE_TYPE_SYSTEM, "code": "acronym"}]}, "value": trial.acronym})
    if labels:
        study["label"] = labels
    study["status"] = "active"
    if trial.brief_summary:
        study["descriptionSummary"] = trial.brief_summary
    if trial.detailed_description:
        study["description"] = trial.detailed_description
    if trial.conditions:
        study["condition"] = [_concept(c.name, [_coding(x) for x in c.codes]) for c in trial.conditions]
    if trial.keywords:
        study["keyword"] = [{"text": k} if k else {} for k in trial.keywords]
    if trial.interventions:
        study["focus"] = [{"concept": _focus_concept(i)} for i in trial.interventions]
    if phase := _phase(trial, "R5"):
        study["phase"] = phase
    if purpose := _purpose(trial, "R5"):
        study["primaryPurposeType"] = purpose
    if design := _design(trial):
        study["studyDesign"] = design
    types = intervention_types()
    classifier = [
        {"coding": [{"system": FOCUS_TYPE_SYSTEM, "code": code}]}
        for code in dict.fromkeys(types[i.type]["fhir_focus_code"] for i in trial.interventions if i.type in types)
    ]
    if trial.cell_therapy:
        classifier += cell_therapy_concepts(trial)
    if classifier:
        study["classifier"] = classifier
    state = STATES.get(trial.status or "")
    if state:
        study["progressStatus"] = [
            {"state": _concept(trial.status, [{"system": STATE_SYSTEM, "code": state}]), "actual": True}
        ]
    enrollment = trial.enrollment
    if enrollment and enrollment.count is not None:
        study["recruitment"] = {("actualNumber" if enrollment.type == "ACTUAL" else "targetNumber"): enrollment.count}
    if period := _period(trial):
        study["period"] = period
    parties = [("lead-sponsor", trial.sponsor)] if trial.sponsor else []
    parties += [("collaborator", c) for c in trial.collaborators if c]
    if parties:
        study["associatedParty"] = [
            {
                "name": name,
                "role": {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": role}]},
                "party": {"reference": f"Organization/{organization_id(name)}", "display": name},
            }
            for role, name in parties
        ]
    if trial.arms:
        study["comparisonGroup"] = [_arm(a) for a in trial.arms]
    if trial.outcomes:
        study["outcomeMeasure"] = [_outcome(o) for o in trial.outcomes]
    return study


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
            "arm": [_arm(a) for a in trial.arms],
        }
    )
