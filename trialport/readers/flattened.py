"""ClinicalTrials.gov's flattened text fields, as the website's CSV export and the seed layout have them.

Interventions are ``TYPE: name`` joined by ``|``. Outcomes are harder: the export joins an outcome's three fields as
``measure, description, time frame`` (description optional) and outcomes with ``|``. Each field may
hold commas itself, so the split is a choice: every ``", "`` is a candidate boundary, each way of
labelling the pieces measure / description / time frame is scored, and the best wins. The weights
were fitted by coordinate search on the outcomes of the classic-API and legacy-XML records in
tests/data; tests measure the split on the API v2 records there, which the fit never saw.
A split whose runner-up scores close to it is marked ``guessed`` so readers can record a diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trialport.model import Diagnostic

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|eighteen|twenty|"
    "thirty|forty|fifty|sixty|ninety|hundred|half|several|a"
)
_NUMBER_WORD_SET = frozenset(_NUMBER_WORDS.split("|"))
_UNIT = (
    r"(?:min(?:ute)?s?|h(?:ou)?rs?|h|days?|d|weeks?|wks?|w|months?|mos?|m|years?|yrs?|y|cycles?|"
    r"visits?|doses?|courses?|sessions?|fractions?)"
)
# A quantity of time: "2 years", "12-week", "two years", "day 28", "week 4", "cycle 3".
_TIME_QUANTITY = re.compile(
    rf"(?:\b(?:\d+(?:[.,]\d+)?|{_NUMBER_WORDS})\s*(?:-|to|\u2013)?\s*{_UNIT}\b)|"
    r"(?:\b(?:day|days|week|weeks|month|months|year|years|hour|hours|cycle|cycles|visit|session|"
    r"dose|course|fraction|minute|minutes|d|w|m)\s*-?\s*\d+)",
    re.IGNORECASE,
)
# Words and phrases that speak of time. Words are looked up in a set (one tokenisation a piece),
# which is many times faster than one regular expression of alternatives.
_TIME_WORDS = frozenset(
    "baseline completion annual annually daily weekly monthly yearly quarterly discharge randomization "
    "randomisation enrollment enrolment screening predose postdose preoperative preoperatively postoperative "
    "postoperatively intraoperative intraoperatively perioperative surgery infusion admission hospitalization "
    "hospitalisation inclusion pregnancy throughout duration timepoint every each until periodically weeks months "
    "years days hours minutes day week month year hour".split()
)
_TIME_PHRASES = re.compile(
    r"follow(?:ed)?[- ]?up|end of (?:study|treatment|therapy|the study|trial)|time point|study period|"
    r"treatment period|(?:pre|post|intra)-(?:dose|operative)"
)
_PHRASE_HINTS = ("follow", "end of", "time point", "period", "-")


def _time_phrase(lower: str) -> bool:
    """The multi-word time phrases, with a cheap substring test first (most pieces have none)."""
    return any(hint in lower for hint in _PHRASE_HINTS) and bool(_TIME_PHRASES.search(lower))


_TOKEN = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_TIME_START = re.compile(
    r"^(?:up ?to|within|through|thru|from|at|after|before|during|until|till|over|by|between|"
    r"baseline|day|days|week|weeks|month|months|year|years|hour|hours|minute|minutes|cycle|cycles|"
    r"visit|screening|end|approximately|approx\.?|about|around|each|every|pre|post|prior|assessed|"
    r"measured|evaluated|collected|time|annually|daily|weekly|monthly|once|twice|on|in|for|"
    r"first|last|the first|the end|immediately|average|median|mean|randomi[sz]ation|"
    rf"{_NUMBER_WORDS})\b|^(?:\d|[<>\u2264\u2265]|[tdwm]\d)",
    re.IGNORECASE,
)
# Lower-case openings that continue the previous clause rather than start a field.
_CONTINUATION = re.compile(
    r"^(?:and|or|but|nor|which|whichever|whereas|while|including|etc|e\.g|i\.e|respectively|"
    r"than|versus|vs|plus|then|not|either|both|[a-z]\)|\d+\))\b"
)
_WEAK_CONTINUATION = re.compile(
    r"^(?:as|that|with|without|defined|whether|if|where|when|who|whose|so|via|per|of|to|is|are|"
    r"was|were|will|be|been|using|such|especially|ie|eg|in|on|at|for|by|from)\b"
)

# Fitted weights (see the module docstring); names say which feature each one prices.
W = {
    "tf_quantity": 0.75,
    "tf_time_word": 1.0,
    "tf_not_timely": 0.0,
    "tf_time_start": 0.75,
    "tf_continuation": -3.0,
    "tf_weak_continuation": -1.0,
    "tf_length_per_100": -1.55,
    "tf_more_timely": 0.6,
    "tf_more_continuation": -0.5,
    "tf_more_other": -0.4,
    "cut_after_sentence": 2.75,
    "measure_sentence_end": -0.65,
    "measure_length_over_150_per_100": -2.5,
    "measure_more_titlecase": 0.1,
    "measure_more_upper": -0.8,
    "measure_more_other": -0.05,
    "desc_present": 0.55,
    "desc_continuation": -2.0,
    "desc_weak_continuation": -1.3,
    "desc_upper_start": 0.5,
    "desc_after_sentence": 0.8,
    "desc_timely_tail": -0.8,
}


def speaks_of_time(text: str) -> bool:
    """Whether text names a time: a quantity of time (``2 years``, ``day 28``) or a time word."""
    return _Piece.of(text).timely


MAX_PIECES = 16


@dataclass(frozen=True)
class FlatOutcome:
    """One outcome as split from flattened text; ``guessed`` when another split scored nearly as well."""

    measure: str
    description: str | None
    time_frame: str | None
    guessed: bool = False

    def guess_diagnostic(self, field: str) -> Diagnostic:
        return Diagnostic(
            level="info",
            code="outcome-split-guess",
            field=field,
            message=f"measure / description / time frame boundaries are a guess in {self.measure[:60]!r}",
        )


def split_outcomes(text: str) -> list[FlatOutcome]:
    """Split a ``|``-joined list of flattened outcomes."""
    return [split_outcome(part) for part in text.split("|") if part.strip()]


def outcomes_module(lists: dict[str, str | None]) -> tuple[dict[str, list[dict[str, str | None]]], list[Diagnostic]]:
    """Flattened outcome lists by kind (``primary``, ``secondary``, ``other``) as an API v2
    ``outcomesModule``, with a diagnostic for every split that was a guess."""
    module: dict[str, list[dict[str, str | None]]] = {}
    diagnostics = []
    for kind, text in lists.items():
        module[f"{kind}Outcomes"] = []
        for split in split_outcomes(text or ""):
            if split.guessed:
                diagnostics.append(split.guess_diagnostic(f"{kind} outcomes"))
            module[f"{kind}Outcomes"].append(
                {"measure": split.measure, "description": split.description, "timeFrame": split.time_frame}
            )
    return module, diagnostics


_INTERVENTION = re.compile(r"^\s*([A-Za-z_ ]+?)\s*:\s*(.+)$", re.DOTALL)


def interventions(text: str | None) -> list[dict[str, str | None]]:
    """``DRUG: x|Biological: y`` as API v2 interventions (type as written; ``ctgov_values`` normalises it)."""
    found = []
    for item in (text or "").split("|"):
        if not item.strip():
            continue
        match = _INTERVENTION.match(item)
        kind, name = (match.group(1), match.group(2)) if match else (None, item)
        found.append({"type": kind, "name": name.strip()})
    return found


def split_outcome(text: str, w: dict[str, float] = W) -> FlatOutcome:
    """Split one ``measure, description, time frame`` string by the best-scoring labelling."""
    pieces = _pieces(text)
    n = len(pieces)
    if n == 1:
        return FlatOutcome(pieces[0], None, None, guessed=True)
    feats = [_Piece.of(p) for p in pieces]
    # A measure or a time frame of more than MAX_PIECES pieces is not seen in registry data; bounding
    # both keeps long descriptions (hundreds of commas) cheap.
    measure_scores = [0.0] + [_measure_score(feats[:m], w) for m in range(1, min(n - 1, MAX_PIECES) + 1)]
    best = second = (float("-inf"), 0, 0)
    for t in range(max(1, n - MAX_PIECES), n):  # pieces[t:] are the time frame
        head = _time_frame_score(feats[t:], w)
        if feats[t - 1].sentence_end:
            head += w["cut_after_sentence"]
        for m in range(1, min(t, MAX_PIECES) + 1):  # pieces[:m] the measure, pieces[m:t] the description
            score = head + measure_scores[m]
            if m < t:
                score += _description_score(feats[m], feats[t - 1], feats[m - 1], w)
            if score > best[0]:
                best, second = (score, m, t), best
            elif score > second[0]:
                second = (score, m, t)
    _, m, t = best
    join = ", ".join
    return FlatOutcome(join(pieces[:m]), join(pieces[m:t]) or None, join(pieces[t:]), best[0] - second[0] < 1.0)


_BRACKET = re.compile("[][(){}\uff08\uff09\uff3b\uff3d]")
_OPEN, _CLOSE = "([{\uff08\uff3b", ")]}\uff09\uff3d"


def _pieces(text: str) -> list[str]:
    """``text`` split at ``", "``, except inside brackets: no field boundary falls within (...).
    Text whose brackets do not balance (typos are common) is split at every ``", "``."""
    raw_pieces = text.strip().split(", ")
    if not _BRACKET.search(text):
        return [p.strip() for p in raw_pieces]
    if sum(text.count(c) for c in _OPEN) != sum(text.count(c) for c in _CLOSE):
        return [p.strip() for p in raw_pieces]
    pieces: list[str] = []
    depth = 0
    for raw in raw_pieces:
        if depth > 0 and pieces:
            pieces[-1] += ", " + raw
        else:
            pieces.append(raw)
        depth = max(0, depth + sum(raw.count(c) for c in _OPEN) - sum(raw.count(c) for c in _CLOSE))
    return [p.strip() for p in pieces]


@dataclass(frozen=True)
class _Piece:
    quantity: bool
    time_word: bool
    time_start: bool
    continuation: bool
    weak_continuation: bool
    sentence_end: bool
    upper_start: bool
    titlecase: bool
    length: int

    @property
    def timely(self) -> bool:
        return self.quantity or self.time_word

    @classmethod
    def of(cls, piece: str) -> _Piece:
        tokens = _TOKEN.findall(piece)
        lower = piece.lower()
        words = {token.lower() for token in tokens}
        has_number = bool(_DIGIT.search(piece)) or not _NUMBER_WORD_SET.isdisjoint(words)
        return cls(
            quantity=has_number and bool(_TIME_QUANTITY.search(piece)),
            time_word=not _TIME_WORDS.isdisjoint(words) or _time_phrase(lower),
            time_start=bool(_TIME_START.match(piece)),
            continuation=bool(_CONTINUATION.match(piece)),
            weak_continuation=bool(_WEAK_CONTINUATION.match(piece)),
            sentence_end=piece.removesuffix(")")[-1:] in (".", ";", ":", "!", "?"),
            upper_start=piece[:1].isupper(),
            titlecase=bool(tokens)
            and len(piece) < 80
            and sum(t[0].isupper() or t[0].isdigit() for t in tokens) >= 0.6 * len(tokens),
            length=len(piece),
        )


def _time_frame_score(feats: list[_Piece], w: dict[str, float]) -> float:
    first = feats[0]
    score = w["tf_quantity"] if first.quantity else w["tf_time_word"] if first.time_word else w["tf_not_timely"]
    if first.time_start:
        score += w["tf_time_start"]
    elif first.continuation:
        score += w["tf_continuation"]
    elif first.weak_continuation:
        score += w["tf_weak_continuation"]
    score += w["tf_length_per_100"] * sum(f.length for f in feats) / 100
    for f in feats[1:]:
        if f.timely or f.length <= 4:
            score += w["tf_more_timely"]
        elif f.continuation:
            score += w["tf_more_continuation"]
        else:
            score += w["tf_more_other"]
    return score


def _measure_score(feats: list[_Piece], w: dict[str, float]) -> float:
    score = w["measure_sentence_end"] if feats[-1].sentence_end else 0.0
    score += w["measure_length_over_150_per_100"] * max(0, sum(f.length for f in feats) - 150) / 100
    for f in feats[1:]:
        if f.titlecase:
            score += w["measure_more_titlecase"]
        elif f.upper_start and not f.continuation:
            score += w["measure_more_upper"]
        else:
            score += w["measure_more_other"]
    return score


def _description_score(first: _Piece, last: _Piece, measure_end: _Piece, w: dict[str, float]) -> float:
    score = w["desc_present"]
    if first.continuation:
        score += w["desc_continuation"]
    elif first.weak_continuation:
        score += w["desc_weak_continuation"]
    if first.upper_start:
        score += w["desc_upper_start"]
    if measure_end.sentence_end:
        score += w["desc_after_sentence"]
    if last.timely and last.length < 40 and not last.sentence_end:
        score += w["desc_timely_tail"]
    return score
