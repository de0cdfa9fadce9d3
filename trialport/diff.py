"""What changed between two sources of the same trials (say the registry records and the workbook a
coordinator edited): outcomes added, removed and changed field by field, and trial fields that differ.

Outcomes are paired by their measure text first (so a reordered or re-kinded row is still itself), then
what is left within each kind where it still looks like the same endpoint (same description, or a
similar measure: a reworded measure); the rest was added or removed.
A trial field is compared only where both sources have it: the workbook carries no summary, and that
is no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path

from trialport import pipeline
from trialport.model import Outcome, Trial

TRIAL_FIELDS = ("title", "official_title", "acronym", "status", "study_type", "sponsor", "phases")


@dataclass(frozen=True)
class Change:
    trial: str
    change: str  # added | removed | changed
    what: str  # trial | outcome | a field name
    before: str | None = None
    after: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def _describe(outcome: Outcome) -> str:
    return f"{outcome.kind}: {outcome.measure}"


def _outcome_fields(outcome: Outcome) -> dict[str, str | None]:
    return {
        "kind": outcome.kind,
        "measure": outcome.measure,
        "description": outcome.description,
        "time frame": outcome.time_frame.text if outcome.time_frame else None,
    }


def _alike(a: Outcome, b: Outcome) -> bool:
    same_description = a.description is not None and a.description == b.description
    return same_description or SequenceMatcher(None, a.measure.lower(), b.measure.lower()).ratio() >= 0.6


def _pairs(before: list[Outcome], after: list[Outcome]) -> Iterator[tuple[Outcome | None, Outcome | None]]:
    left, right = list(before), list(after)
    for outcome in list(left):
        match = next((o for o in right if o.measure == outcome.measure), None)
        if match is not None:
            left.remove(outcome)
            right.remove(match)
            yield outcome, match
    for outcome in list(left):
        match = next((o for o in right if o.kind == outcome.kind and _alike(outcome, o)), None)
        if match is not None:
            left.remove(outcome)
            right.remove(match)
            yield outcome, match
    for outcome in left:
        yield outcome, None
    for outcome in right:
        yield None, outcome


def compare(a: Trial, b: Trial) -> Iterator[Change]:
    for name in TRIAL_FIELDS:
        old, new = getattr(a, name), getattr(b, name)
        if old and new and old != new:
            yield Change(a.id, "changed", name, str(old), str(new))
    for old, new in _pairs(a.outcomes, b.outcomes):
        if new is None:
            yield Change(a.id, "removed", "outcome", _describe(old))
        elif old is None:
            yield Change(a.id, "added", "outcome", None, _describe(new))
        else:
            before, after = _outcome_fields(old), _outcome_fields(new)
            for field, value in before.items():
                if value != after[field]:
                    yield Change(
                        a.id, "changed", f"outcome {old.kind} '{old.measure[:40]}' {field}", value, after[field]
                    )


def diff(a: Iterable[str | Path], b: Iterable[str | Path]) -> list[Change]:
    """Every change from the trials under ``a`` to the trials under ``b``, by trial id."""
    left = {t.id: t for t in pipeline.trials(a)}
    right = {t.id: t for t in pipeline.trials(b)}
    changes: list[Change] = []
    for trial_id in sorted(left.keys() | right.keys()):
        if trial_id not in right:
            changes.append(Change(trial_id, "removed", "trial", left[trial_id].title))
        elif trial_id not in left:
            changes.append(Change(trial_id, "added", "trial", None, right[trial_id].title))
        else:
            changes.extend(compare(left[trial_id], right[trial_id]))
    return changes
