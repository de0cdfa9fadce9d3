"""What changed between two sources of the same trials (say the registry records and the workbook a
coordinator edited): outcomes, sites, site contacts, central contacts, officials, references, links and
eligibility criteria added, removed and changed field by field, and trial fields that differ.

Outcomes are paired by their measure text first (so a reordered or re-kinded row is still itself), then
what is left within each kind where it still looks like the same endpoint (same description, or a
similar measure: a reworded measure); the rest was added or removed. The other lists pair the same way
(``diff_records``): items equal in what names them first, then items alike enough to be the same one edited.
A trial field is compared only where both sources have it: the workbook carries no summary (and the
criteria block only when it could not be split), and that is no change. A list a source says it does not
carry (an info diagnostic ``not-carried``, as an older workbook without a Sites sheet gives) is not
compared either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path

from trialport import pipeline
from trialport.diff_records import record_changes
from trialport.model import Outcome, Trial

TRIAL_FIELDS = ("title", "official_title", "acronym", "status", "why_stopped", "study_type", "sponsor", "phases")
PART_FIELDS = {  # fields of a trial's parts, compared like the trial's own
    "eligibility": ("criteria", "std_ages", "study_population", "sampling_method"),
    "design": ("observational_model", "time_perspective"),
}


@dataclass(frozen=True)
class Change:
    trial: str
    change: str  # added | removed | changed
    what: str  # trial | outcome | site | ... | "inclusion criterion 2", or the field that changed
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


def _fields(trial: Trial) -> dict[str, object]:
    found = {name: getattr(trial, name) for name in TRIAL_FIELDS}
    for part, names in PART_FIELDS.items():
        value = getattr(trial, part)
        found |= {f"{part}.{name}": getattr(value, name) if value else None for name in names}
    return found


def compare(a: Trial, b: Trial) -> Iterator[Change]:
    before, after = _fields(a), _fields(b)
    for name, old in before.items():
        new = after[name]
        if old and new and old != new:
            yield Change(a.id, "changed", name, _shown(old), _shown(new))
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
    for change, what, old_value, new_value in record_changes(a, b):
        yield Change(a.id, change, what, old_value, new_value)


def _shown(value: object) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


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
