"""A study's interventions as PlanDefinitions, referenced from ``ResearchStudy.protocol``.

``focus`` names an intervention and codes it; the PlanDefinition holds what a concept cannot: its
description, its other names and the arms that give it. One PlanDefinition per intervention of a study
(not shared: two studies giving one drug describe and schedule it differently). The same resource in
R5, R4B and R4: every element used is in all three.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from trialport.fhir.codes import (
    INTERVENTION_ARM_EXTENSION,
    INTERVENTION_OTHER_NAME_EXTENSION,
    PLAN_ID_PREFIX,
    PLAN_ID_SYSTEM,
    PLAN_TYPE_SYSTEM,
)
from trialport.fhir.referenced import hash16
from trialport.model import Intervention, Trial, normal

Resource = dict[str, Any]

_CLINICAL_PROTOCOL = {
    "coding": [{"system": PLAN_TYPE_SYSTEM, "code": "clinical-protocol", "display": "Clinical Protocol"}]
}


_normal_name = lru_cache(maxsize=65536)(normal)  # intervention names recur (Placebo, Pembrolizumab...)


def plan_ids(trial: Trial) -> list[str]:
    """``plan-`` + 16 hex of sha256 of "trial id|normalised name|position", one per intervention; the
    position (from 1) only where two of the study's interventions share the normalised name."""
    names = [_normal_name(i.name) for i in trial.interventions]
    shared = len(set(names)) < len(names)
    return [
        PLAN_ID_PREFIX + hash16(f"{trial.id}|{name}|{n if shared and names.count(name) > 1 else ''}")
        for n, name in enumerate(names, 1)
    ]


def protocol(trial: Trial, ids: list[str]) -> list[dict[str, str]]:
    """``ResearchStudy.protocol``: each intervention's PlanDefinition, in the order of ``focus``."""
    refs = []
    for intervention, pid in zip(trial.interventions, ids, strict=True):
        ref = {"reference": f"PlanDefinition/{pid}"}
        if intervention.name:
            ref["display"] = intervention.name
        refs.append(ref)
    return refs


def plan_definition(intervention: Intervention, pid: str) -> Resource:
    """title = the name, ``topic`` text = the registry's type (DRUG...), ``description``; other names
    and arm labels in our repeatable extensions, in the registry's order."""
    plan: Resource = {"resourceType": "PlanDefinition", "id": pid}
    extensions = [{"url": INTERVENTION_OTHER_NAME_EXTENSION, "valueString": n} for n in intervention.other_names if n]
    extensions += [{"url": INTERVENTION_ARM_EXTENSION, "valueString": a} for a in intervention.arm_labels if a]
    if extensions:
        plan["extension"] = extensions
    plan["identifier"] = [{"system": PLAN_ID_SYSTEM, "value": pid}]
    if intervention.name:
        plan["title"] = intervention.name
    plan["type"] = _CLINICAL_PROTOCOL
    plan["status"] = "unknown"
    if intervention.description:
        plan["description"] = intervention.description
    if intervention.type:
        plan["topic"] = [{"text": intervention.type}]
    return plan


def plan_definitions(trial: Trial, ids: list[str]) -> list[Resource]:
    return [plan_definition(i, pid) for i, pid in zip(trial.interventions, ids, strict=True)]
