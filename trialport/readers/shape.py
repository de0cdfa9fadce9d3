"""Where a ClinicalTrials.gov API v2 study has a value of the wrong JSON type.

Mapping a study assumes lists where the API has lists and objects where it has objects; a hostile or
broken file breaks that with a bare ``TypeError``. This names the first offending field instead, so a
rejection says ``protocolSection.conditionsModule.conditions: a number where a list belongs``.
"""

from __future__ import annotations

from typing import Any

LISTS = frozenset(
    {
        "conditions",
        "keywords",
        "phases",
        "interventions",
        "armGroups",
        "primaryOutcomes",
        "secondaryOutcomes",
        "otherOutcomes",
        "collaborators",
        "otherNames",
        "armGroupLabels",
        "interventionNames",
        "stdAges",
        "meshes",
        "ancestors",
        "locations",
        "overallOfficials",
        "references",
    }
)
_OBJECT_ENDINGS = ("Section", "Module", "Struct", "Info")
_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
MAX_DEPTH = 8  # the API's own nesting is shallower than this


def expected(key: str) -> type | None:
    """The JSON type a key holds in the API's studies, when its name says so."""
    if key in LISTS or key.endswith("Infos"):
        return list
    if key.endswith(_OBJECT_ENDINGS):
        return dict
    return None


def mistyped(value: Any, where: str = "", depth: int = 0) -> str | None:
    """The first field (dotted path) whose value has the wrong type, described; None if all look right."""
    if depth > MAX_DEPTH:
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        path = f"{where}.{key}" if where else str(key)
        want = expected(key) if isinstance(key, str) else None
        if want is not None and child is not None and not isinstance(child, want):
            return f"{path}: {_NAMES.get(type(child), type(child).__name__)} where {_NAMES[want]} belongs"
        if found := mistyped(child, path, depth + 1):
            return found
    return None
