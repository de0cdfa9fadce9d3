"""From mapped fields to a Trial: the id, the source, and validation, the same for every reader."""

from __future__ import annotations

from typing import Any

from trialport.model import Source, Trial, trial_id


def assemble(fields: dict[str, Any], source: Source, nct_id: str | None = None) -> Trial:
    """Add id and source to ``fields`` (model field names, text already repaired) and validate."""
    title = fields.get("title") or fields.get("official_title") or nct_id or ""
    return Trial.model_validate({**fields, "title": title, "id": trial_id(nct_id, title), "source": source})
