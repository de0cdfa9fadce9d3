"""Reader for the seed text layout: one record per file, one field per line, empty fields dropped.

Order: title / brief summary (may hold blank-line paragraphs) / conditions (``|``) / interventions
(``TYPE: name``, ``|``) / primary outcomes / secondary outcomes / detailed description. Because empty
fields are dropped, no line says which field it is: the reader finds the single-line fields as the
best-scoring contiguous run between the summary and the description (see ``segment``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from trialport.model import INTERVENTION_TYPES, Diagnostic, Source
from trialport.readers import ctgov_v2
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, Skipped, decode_text, looks_binary, sha256
from trialport.readers.flattened import interventions, outcomes_module, speaks_of_time, split_outcome

MAX_TITLE = 300  # ClinicalTrials.gov's limit for a brief title

_TYPES = "|".join(t.replace("_", "[ _]") for t in INTERVENTION_TYPES)
_INTERVENTION = re.compile(rf"^\s*({_TYPES})\s*:\s*(.+)$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_SENTENCES = re.compile(r"[.!?]\s+[A-Z]")
ROLES = ("conditions", "interventions", "primary", "secondary")


class SeedTextReader:
    name = "seedtext"
    description = "seed text layout: one record per file, one field per line (.txt)"
    priority = 90  # the catch-all for plain text: other readers sniff first

    def sniff(self, path: Path, head: bytes) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return not stripped.startswith((b"{", b"[", b"<", b"PK\x03\x04")) and not looks_binary(head)

    def read(self, path: Path) -> Iterator[ReadResult]:
        data = path.read_bytes()
        yield parse(data, str(path))


def parse(data: bytes, path: str) -> ReadResult:
    """Turn one seed-layout document into a Trial, or say why it is not one."""
    if not data.strip():
        return Rejection(path, None, "empty file")
    if looks_binary(data[:4096]):
        return Rejection(path, None, "binary file, not text")
    text, encoding_note = decode_text(data)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:  # only a byte-order mark, or whitespace in UTF-16
        return Rejection(path, None, "empty file")
    title, body = lines[0].strip(), lines[1:]
    found = segment(body)
    if len(title) > MAX_TITLE and not ({"interventions", "primary", "secondary"} & found.roles.keys()):
        return Skipped(
            path, None, f"not a registry record: first line is a {len(title):,}-character paragraph, not a title"
        )
    if not _is_record(found, body):
        return Skipped(path, None, f"not a registry record: no interventions line or outcome list after {title[:60]!r}")
    if len(title) > MAX_TITLE:
        return Rejection(
            path, None, f"first line is {len(title):,} characters; a registry title has at most {MAX_TITLE}"
        )

    diagnostics: list[Diagnostic] = []
    if encoding_note:
        diagnostics.append(Diagnostic(level="warning", code="encoding", field=None, message=encoding_note))
    if found.margin < 1.0:
        diagnostics.append(
            Diagnostic(
                level="warning",
                code="layout-guess",
                field=None,
                message="which line holds which field is a guess; another reading scored nearly as well",
            )
        )
    roles = {role: body[i] for role, i in found.roles.items()}
    outcomes, guesses = outcomes_module({kind: roles.get(kind) for kind in ("primary", "secondary")})
    study = {
        "protocolSection": {
            "identificationModule": {"briefTitle": title},
            "descriptionModule": {
                "briefSummary": "\n".join(body[: found.start]),
                "detailedDescription": "\n".join(body[found.end :]),
            },
            "conditionsModule": {"conditions": [c for c in roles.get("conditions", "").split("|") if c.strip()]},
            "armsInterventionsModule": {"interventions": interventions(roles.get("interventions"))},
            "outcomesModule": outcomes,
        }
    }
    fields, _ = ctgov_v2.fields(study)
    fields["diagnostics"] = diagnostics + guesses + fields["diagnostics"]
    return assemble(fields, Source(format="seedtext", path=path, record=None, sha256=sha256(data)))


@dataclass(frozen=True)
class Segmentation:
    """Where the single-line fields stand: ``roles`` maps field to line index; summary before
    ``start``, description from ``end``; ``margin`` is how far the runner-up reading scored behind."""

    roles: dict[str, int]
    start: int
    end: int
    margin: float


def segment(lines: list[str]) -> Segmentation:
    """Find the contiguous run of single-line fields that scores best.

    Each line is scored for each role (conditions, interventions, outcome list) against being prose;
    prose lines score 0. Blank lines separate paragraphs of the summary or the description, so the
    run never contains one.
    """
    scores = [_line_scores(line) for line in lines]
    readings: list[tuple[float, dict[str, int], int, int]] = [(0.0, {}, len(lines), len(lines))]
    for start in range(len(lines)):
        for size in range(1, len(ROLES) + 1):
            end = start + size
            if end > len(lines) or not lines[end - 1].strip():
                break
            for roles in combinations(ROLES, size):
                total = sum(scores[start + k][role] for k, role in enumerate(roles))
                readings.append((total, {role: start + k for k, role in enumerate(roles)}, start, end))
    readings.sort(key=lambda reading: reading[0], reverse=True)
    total, roles, start, end = readings[0]
    # A lone outcome line read as secondary instead of primary is the same reading, not a rival.
    shape = _shape(roles)
    runner_up = next((r[0] for r in readings[1:] if _shape(r[1]) != shape), float("-inf"))
    return Segmentation(roles, start, end, total - runner_up)


def _is_record(found: Segmentation, lines: list[str]) -> bool:
    """A record has an interventions line, or an outcome list whose items end in a time or a date.
    Hard-wrapped prose (a README, a licence) can look like conditions or short outcomes, never like that."""
    if "interventions" in found.roles:
        return True
    return any(
        _line_scores(lines[i])[role] >= 3.0 for role, i in found.roles.items() if role in ("primary", "secondary")
    )


def _shape(roles: dict[str, int]) -> frozenset[tuple[str, int]]:
    return frozenset((role if role in ("conditions", "interventions") else "outcomes", i) for role, i in roles.items())


def _line_scores(line: str) -> dict[str, float]:
    parts = [p.strip() for p in line.split("|")]
    if not line.strip():
        return dict.fromkeys(ROLES, float("-inf"))
    interventions = all(_INTERVENTION.match(p) for p in parts)
    outcome = _outcome_list_score(parts)
    return {
        "conditions": -3.0 if interventions else _conditions_score(parts),
        "interventions": 10.0 if interventions else -10.0,
        "primary": outcome + 0.1,  # a lone outcome line is primary (secondary needs a primary first)
        "secondary": outcome,
    }


def _conditions_score(parts: list[str]) -> float:
    for part in parts:
        if not part or len(part) > 200 or _SENTENCES.search(part) or part.endswith((".", ":", ";", "?", "!")):
            return -3.0
    return 2.0


def _outcome_list_score(parts: list[str]) -> float:
    """Outcomes are ``measure, [description, ]time frame``: at least two pieces, and the best split's
    time frame speaks of time, or at least of numbers, or is short."""
    score = 0.0
    for part in parts:
        split = split_outcome(part)
        time_frame = split.time_frame
        if not time_frame:
            return -4.0
        if _SENTENCES.search(split.measure):
            score -= 1.0  # a measure is a title, not sentences: this is prose
        elif speaks_of_time(time_frame):
            score += 4.0
        elif time_frame.endswith((".", ":", ";", "?", "!")):
            score -= 1.0
        elif _DIGIT.search(time_frame):
            score += 3.0  # "2019.7-2022.7", "Up to August 1, 2022"
        elif len(time_frame) <= 40:
            score += 2.0
        else:
            score -= 1.0
    return score / len(parts) if score > 0 else -4.0
