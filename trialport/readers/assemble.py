"""From mapped fields to a Trial: the id, the source, and validation, the same for every reader."""

from __future__ import annotations

from typing import Any

from trialport.mapping.enrich import enrich
from trialport.model import Source, Trial, trial_id


def assemble(fields: dict[str, Any], source: Source, nct_id: str | None = None) -> Trial:
    """Enrich ``fields`` (model field names, text already repaired), add id and source, validate."""
    fields = enrich(fields)  # on the record as it is: a missing title is no text to read
    title = fields.get("title") or fields.get("official_title") or nct_id or ""
    fields["title"] = title
    return Trial.model_validate({**fields, "id": trial_id(nct_id, title), "source": source})
