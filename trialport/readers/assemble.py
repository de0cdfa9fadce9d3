"""From a reader's raw fields to a Trial: one place where every reader's text gets the same repair.

Readers collect what their format holds into a plain dict with the model's field names; ``assemble``
repairs every string (single-line fields folded to one line, multi-paragraph fields keeping their
paragraphs), drops empty values, derives the id and validates the Trial.
"""

from __future__ import annotations

from typing import Any

from trialport.mapping.text import clean_block, clean_line
from trialport.model import Source, Trial, trial_id

# Fields whose text keeps its line breaks; every other string is one line.
BLOCK_FIELDS = frozenset({"brief_summary", "detailed_description", "criteria", "description"})


def assemble(raw: dict[str, Any], source: Source, nct_id: str | None = None) -> Trial:
    """Repair the text of ``raw`` (model field names), add id and source, and validate."""
    fields = _clean(raw, None) or {}
    title = fields.get("title") or fields.get("official_title") or nct_id or ""
    fields["title"] = title
    fields["id"] = trial_id(nct_id, title)
    fields["source"] = source
    return Trial.model_validate(fields)


def _clean(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return clean_block(value) if key in BLOCK_FIELDS else clean_line(value)
    if isinstance(value, dict):
        cleaned = {k: _clean(v, k) for k, v in value.items()}
        kept = {k: v for k, v in cleaned.items() if v is not None and v != {}}
        return kept or None
    if isinstance(value, list):
        items = (_clean(v, key) for v in value)
        return [v for v in items if v is not None]
    return value
