"""Eligibility as data on the definitional Group, both ways: each inclusion and exclusion criterion a
``Group.characteristic`` (its text the value, ``exclude`` saying which kind), the age limits one with a
UCUM range, the sex one with an administrative-gender code. R4, R4B and R5 share the element's shape.

A criterion is told from the age and sex characteristics (and from anyone else's) by its code alone, so
a reader never takes one for the other.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from trialport.fhir.codes import (
    AGE_CODE,
    AGE_DISPLAY,
    CRITERION_CODE,
    CRITERION_DISPLAY,
    ELIGIBILITY_CHARACTERISTIC_SYSTEM,
    GENDER_SYSTEM,
    GENDERS,
    LOINC,
    SEX_CODE,
    SEX_DISPLAY,
    UCUM_SYSTEM,
)
from trialport.mapping.timeframes import UCUM
from trialport.model import Eligibility

# A registry age: "18 Years", "6 Months", "1 Year", "30 Days" (ClinicalTrials.gov writes number and unit)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+((year|month|week|day|hour|minute)s?)\s*$", re.IGNORECASE)
_WORDS = {code: word.capitalize() + "s" for word, code in UCUM.items()}  # a → Years, for a unit without text
_SEXES = {code: sex for sex, (code, _) in GENDERS.items()}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _criterion(text: str, exclude: bool) -> dict[str, Any]:
    return {
        "code": _concept(ELIGIBILITY_CHARACTERISTIC_SYSTEM, CRITERION_CODE, CRITERION_DISPLAY),
        "valueCodeableConcept": {"text": text},
        "exclude": exclude,
    }


@lru_cache(maxsize=1024)  # a few ages ("18 Years") make most of the registry's
def _age_parts(text: str) -> tuple[int | float, str, str] | None:
    match = _AGE.match(text)
    if not match:
        return None
    number = float(match.group(1))
    return int(number) if number.is_integer() else number, match.group(2), UCUM[match.group(3).lower()]


def age_quantity(text: str | None) -> dict[str, Any] | None:
    """ "18 Years" as a UCUM quantity; its unit text is the registry's word, so the age reads back the same."""
    parts = _age_parts(text) if text else None
    if parts is None:
        return None
    return {"value": parts[0], "unit": parts[1], "system": UCUM_SYSTEM, "code": parts[2]}


def characteristics(eligibility: Eligibility | None) -> list[dict[str, Any]]:
    """The criteria in order (inclusion, then exclusion), then the age range and the sex where coded."""
    if eligibility is None:
        return []
    found = [_criterion(text, False) for text in eligibility.inclusion]
    found += [_criterion(text, True) for text in eligibility.exclusion]
    low, high = age_quantity(eligibility.minimum_age), age_quantity(eligibility.maximum_age)
    if low or high:
        limits = {"low": low} if low else {}
        if high:
            limits["high"] = high
        found.append(
            {
                "code": _concept(LOINC, AGE_CODE, AGE_DISPLAY),
                "valueRange": limits,
                "exclude": False,
            }
        )
    if gender := GENDERS.get(eligibility.sex or ""):
        found.append(
            {
                "code": _concept(LOINC, SEX_CODE, SEX_DISPLAY),
                "valueCodeableConcept": _concept(GENDER_SYSTEM, *gender),
                "exclude": False,
            }
        )
    return found


def _coded(concept: Any, system: str, code: str) -> bool:
    return isinstance(concept, dict) and any(
        isinstance(c, dict) and c.get("system") == system and c.get("code") == code for c in concept.get("coding") or []
    )


def _age(quantity: Any) -> str | None:
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return None
    unit = quantity.get("unit") or _WORDS.get(quantity.get("code") or "")
    if not unit:
        return None
    value = quantity["value"]
    return f"{int(value) if float(value).is_integer() else value} {unit}"


def from_characteristics(group: dict[str, Any]) -> dict[str, Any]:
    """Eligibility fields of a Group's characteristics: ``inclusion`` and ``exclusion`` when it has criteria
    (both then, one maybe empty), ``sex`` and the age limits when coded. Others are passed over."""
    found: dict[str, Any] = {}
    inclusion, exclusion = [], []
    for characteristic in group.get("characteristic") or []:
        if not isinstance(characteristic, dict):
            continue
        code = characteristic.get("code")
        if _coded(code, ELIGIBILITY_CHARACTERISTIC_SYSTEM, CRITERION_CODE):
            text = (characteristic.get("valueCodeableConcept") or {}).get("text")
            if isinstance(text, str) and text:
                (exclusion if characteristic.get("exclude") is True else inclusion).append(text)
        elif characteristic.get("exclude") is True:
            continue  # an age or sex the study does not take: not a limit the model can hold
        elif _coded(code, LOINC, AGE_CODE) and isinstance(characteristic.get("valueRange"), dict):
            limits = characteristic["valueRange"]
            found["minimum_age"], found["maximum_age"] = _age(limits.get("low")), _age(limits.get("high"))
        elif _coded(code, LOINC, SEX_CODE):
            value = characteristic.get("valueCodeableConcept") or {}
            codes = [c.get("code") for c in value.get("coding") or [] if c.get("system") == GENDER_SYSTEM]
            if sex := next((_SEXES[c] for c in codes if c in _SEXES), None):
                found["sex"] = sex
    if inclusion or exclusion:
        found["inclusion"], found["exclusion"] = inclusion, exclusion
    return found
