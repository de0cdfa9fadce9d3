"""The enrichment step every reader's output passes through: time frames parsed, conditions coded
from the curated tables, the eligibility block split into its criteria, CAR-T features found. Works on
the mapped fields, before validation."""

from __future__ import annotations

from typing import Any

from trialport.mapping import cart, criteria, terminology, timeframes


def _same_code(code: str) -> str:
    """MeSH UIs come both padded and not (D000008175, D008175): compare them as the same code."""
    return code[0] + str(int(code[1:])) if code[:1] in "DC" and code[1:].isdigit() else code


def _split_criteria(fields: dict[str, Any]) -> None:
    """Inclusion and exclusion items from the criteria block, unless the reader gave them (the FHIR and
    workbook readers read them back); a block that cannot be split says why in a diagnostic."""
    eligibility = fields.get("eligibility")
    if not eligibility or not eligibility.get("criteria") or "inclusion" in eligibility or "exclusion" in eligibility:
        return
    found = criteria.split(eligibility["criteria"])
    fields["eligibility"] = {**eligibility, "inclusion": found.inclusion, "exclusion": found.exclusion}
    if found.problem:
        diagnostic = {"level": "warning", "code": "criteria-unsplit", "field": "eligibility.criteria"}
        fields["diagnostics"] = [*(fields.get("diagnostics") or []), {**diagnostic, "message": found.problem}]


def enrich(fields: dict[str, Any]) -> dict[str, Any]:
    _split_criteria(fields)
    for outcome in fields.get("outcomes") or []:
        frame = outcome.get("time_frame")
        if frame and frame.get("kind", "unparsed") == "unparsed":
            outcome["time_frame"] = timeframes.parse(frame["text"])
    for condition in fields.get("conditions") or []:
        have = {(c["system"], _same_code(c["code"])) for c in condition.get("codes", [])}
        condition["codes"] = [
            *condition.get("codes", []),
            *(c for c in terminology.condition_codes(condition["name"]) if (c.system, _same_code(c.code)) not in have),
        ]
    therapy = cart.features(fields)
    if therapy:
        fields["cell_therapy"] = therapy
        interventions = fields.get("interventions") or []
        for intervention in interventions:
            # An intervention's targets are the antigens its own name gives; a lone intervention is the CAR.
            named = cart.features({"title": intervention.get("name")}) or {}
            intervention["targets"] = named.get("targets") or (therapy["targets"] if len(interventions) == 1 else [])
    return fields
