"""Structure checks of FHIR resources with fhir.resources (R5, and its R4B package).

fhir.resources has no R4 package: R4 is checked with the R4B models. The resources the export writes
(ResearchStudy, Organization, Location, Practitioner, PractitionerRole, Group) have the same elements
in R4 4.0.1 and R4B 4.3.0; FHIR.js checks them against the 4.0.1 definitions in the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError


@cache
def _model(resource_type: str, version: str) -> type:
    from fhir.resources import get_fhir_model_class
    from fhir.resources.R4B import get_fhir_model_class as get_r4b_model_class

    return (get_fhir_model_class if version == "R5" else get_r4b_model_class)(resource_type)


def problems(resource: dict[str, Any], version: str) -> list[str]:
    """What fhir.resources finds wrong with ``resource`` in ``version``; empty when it is valid."""
    try:
        _model(resource["resourceType"], version).model_validate(resource)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    except (KeyError, ValueError) as error:
        return [str(error)]
    return []


def validate_file(path: Path, version: str | None = None) -> Iterator[tuple[str, str, list[str]]]:
    """Every resource in a FHIR JSON, Bundle or NDJSON file: (where, version checked, problems).
    The version, unless given, is R4B where a resource is shaped as R4 / R4B (``shape_of``), else R5."""
    from trialport.readers.fhir import version_of

    data = path.read_bytes()
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        return  # an empty NDJSON file holds no resources
    try:
        documents = (
            [orjson.loads(line) for line in lines]
            if len(lines) > 1 and lines[0].strip().endswith(b"}")
            else [orjson.loads(data)]
        )
    except orjson.JSONDecodeError as error:
        yield str(path), "-", [f"invalid JSON: {error}"]
        return
    for document in documents:
        where = f"{path} [{document.get('resourceType')}/{document.get('id')}]" if len(documents) > 1 else str(path)
        if document.get("resourceType") == "Bundle":
            studies = [e.get("resource", {}) for e in document.get("entry", [])]
            checked = version or next(
                (version_of(s) for s in studies if s.get("resourceType") == "ResearchStudy"), "R5"
            )
        else:
            checked = version or shape_of(document)
        yield where, checked, problems(document, checked)


def shape_of(resource: dict[str, Any]) -> str:
    """R4B where a resource has an element only R4 / R4B has, else R5 (Organization, Location and
    Practitioner as exported are valid in both)."""
    from trialport.readers.fhir import version_of

    kind = resource.get("resourceType")
    if kind == "ResearchStudy":
        return version_of(resource)
    if (kind == "PractitionerRole" and "telecom" in resource) or (kind == "Group" and "actual" in resource):
        return "R4B"
    return "R5"
