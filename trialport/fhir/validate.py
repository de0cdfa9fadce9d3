"""Structure checks of FHIR resources with fhir.resources (R5, and its R4B package)."""

from __future__ import annotations

from functools import cache
from typing import Any

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
