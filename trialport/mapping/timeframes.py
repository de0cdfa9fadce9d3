"""Outcome time frames: the registry's free text read into a TimeFrame.

``Up to 2 years`` → duration 2 a (P2Y), comparator ``<=``; ``Day 30 (±2)`` → timepoint 30 d, tolerance
``±2 d``; ``Weeks 4, 16, 24`` → schedule [4, 16, 24] wk; ``Day 1 to Day 28 of Cycle 1`` → duration
[1, 28] d anchored at cycle 1. Units are UCUM (min, h, d, wk, mo, a). The text is always kept. What the
rules cannot read with confidence stays ``unparsed``: an honest answer, where a wrong parse is a bug.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from trialport.model import TimeFrame

UCUM = {"minute": "min", "hour": "h", "day": "d", "week": "wk", "month": "mo", "year": "a"}
ISO = {"min": "TM", "h": "TH", "d": "D", "wk": "W", "mo": "M", "a": "Y"}
DAYS = {"min": 1 / 1440, "h": 1 / 24, "d": 1, "wk": 7, "mo": 30.4375, "a": 365.25}

_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "eighteen": 18,
    "twenty": 20,
    "twenty-four": 24,
    "thirty": 30,
    "forty": 40,
    "forty-eight": 48,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")\b")
_A_UNIT = re.compile(r"\b(?:a|an|one)\s+(?=(?:minute|hour|day|week|month|year)\b)")
_ORDINAL_UNIT = re.compile(r"\b(\d+)(?:st|nd|rd|th)\s+(minute|hour|day|week|month|year)\b")
_UNIT_WORD = r"(minute|min|hour|hr|h|day|d|week|wk|month|mo|year|yr)s?"
_UNIT_NAME = r"(?:minute|min|hour|hr|h|day|d|week|wk|month|mo|year|yr)s?\b"
_UNIT_ALIASES = {"min": "minute", "hr": "hour", "h": "hour", "d": "day", "wk": "week", "mo": "month", "yr": "year"}
_NUM = r"(\d+(?:\.\d+)?)"
_NUMBER = r"\d+(?:\.\d+)?"  # the same, not captured
# "2 years", "12-week", "2-years"
_QTY = re.compile(rf"(?<![\d.:/±])(?<![a-z]-){_NUM}\s*-?\s*{_UNIT_WORD}\b")
# "day 30", "week 4", "day +100", "month 6"
_POINT = re.compile(rf"\b{_UNIT_WORD}\s*\+?\s*{_NUM}(?![\d.]*\s*-?\s*(?:minute|hour|day|week|month|year|mg|ml|%))")
_UP_TO = re.compile(
    r"\b(up to|upto|within|through|thru|until|untill|till|to|for up to|a maximum of|maximum of|maximum|max|"
    r"at most|no more th[ae]n?|not exceeding|no longer than|assessed at|assessed up to|assessed for|by|up)"
    r"\s+(?:of\s+)?(?:the\s+)?"
    r"(?:approximately\s+|about\s+|around\s+|~\s*)?$"
)
_AVERAGE = re.compile(r"\b(?:an\s+)?average(?:\s+of)?\s+(?:approximately\s+)?$")
_ABOUT = re.compile(r"\b(?:approximately|approx\.?|about|around|roughly|~)\s*$")
_AT_LEAST = re.compile(r"\b(?:at least|minimum of|a minimum of|minimum|more than)\s+$")
_TOLERANCE = re.compile(rf"(?:\u00b1|\+/-|\+-)\s*{_NUM}\s*(?:{_UNIT_WORD}\b)?")
_ANCHOR = re.compile(
    r"\b(after|post|following|from|since|prior to|before|of)[\s-]+((?:the\s+)?[a-z][a-z0-9+/\- ]{1,50}?)"
    r"(?=\s*(?:[,.;:()]|$|\b(?:and|or|until|to|up to|through|whichever|assessed|by|according|as|per|with|when)\b))"
)
# Phrases that say how long a cycle is, or how a day is counted: they are not the time frame itself.
_CYCLE_LENGTH = re.compile(
    r"\(?\s*(?:each|one|1|a)?\s*(?:treatment\s+)?(?:cycle|course)s?\s*(?:length\s*|duration\s*)?"
    r"(?:is|=|of|consists of|lasts|average is|:)\s*"
    rf"(?P<bound>a minimum of\s+|at least\s+|approximately\s+|max(?:imum)?\.?\s+(?:of\s+)?)?{_NUM}\s*-?\s*days?"
    r"\s*(?:long|each)?\s*\)?"
    rf"|\(?\s*{_NUM}\s*-?\s*days?\s+(?:treatment\s+)?(?:cycle|course)s?\s*\)?"
    r"|\(?\s*assessed as day \d+\s*\)?|\(\s*day\s*[01]\s*\)"
)
_CYCLE_DAY = re.compile(r"\bcycle\s*(\d+)\s*,?\s*day\s*(\d+)\b")
_YEARS_MONTHS = re.compile(r"\b(\d+)\s*years?\s*(?:and\s*)?(\d+)\s*months?\b")
_CENTRE_TOLERANCE = re.compile(rf"{_NUM}\s*\(?\s*(?:±|\+/-)\s*{_NUM}\s*\)?\s*{_UNIT_WORD}\b")
_START = r"(baseline|inclusion|enrol+ment|recruitment|admission|randomi[sz]ation|screening)"
# A starting point named as a time of its own ("baseline, week 12", "before and 12 months after"), not
# as what a time counts from ("day 7 from baseline").
_BASELINE = re.compile(
    r"(?<!from )(?<!since )(?<!after )(?<!post-)(?<!post )\bbaseline\b(?! to\b| up to\b| until\b)"
    r"|\bbefore and\b|\bpre[- ]?(?:dose|treatment|infusion)\b"
    r"|\b(?:enrol+ment|screening|admission) and\b|^before\b[^,.;]*\band\b"
)
_SEPARATORS = re.compile(r"^(?:\s*(?:,|;|-|and|&|/|or|at|after|by|then)\s*)+$")
_SENTENCE_BREAK = re.compile(r"(?<=[a-z)])\.\s+(?=[a-z])")


def parse(text: str) -> TimeFrame:
    """The TimeFrame of one outcome time frame text."""
    return _parse(text)


@lru_cache(maxsize=65536)  # registry time frames repeat a lot ("Up to 2 years")
def _parse(text: str) -> TimeFrame:
    clean = _first_timed_sentence(_normalise(text))
    tolerance = _TOLERANCE.search(clean)
    core = _TOLERANCE.sub(" ", clean) if tolerance else clean
    calendar = "cycle-" in core  # "cycle 1 day 15": counted in cycles, whose length is not given
    fields = _bounded(core) if calendar else (_range(core) or _schedule(core) or _bounded(core))
    if not fields and not calendar:
        fields = _single(core)
        if fields and tolerance:  # "Day 30 (±2)": a point in time with a window around it
            unit = UCUM[_unit(tolerance.group(2))] if tolerance.group(2) else fields["unit"]
            fields |= {"kind": "timepoint", "tolerance": f"±{float(tolerance.group(1)):g} {unit}"}
    if not fields:
        return TimeFrame(text=text)
    kind, value, unit = fields.pop("kind"), fields.pop("value"), fields.pop("unit")
    end = fields.pop("end", None)
    return TimeFrame(
        text=text,
        kind=kind,
        value=value,
        unit=unit,
        iso8601=_iso(value, unit) if kind != "schedule" else None,
        anchor=fields.pop("anchor", None) or _anchor(core, end),
        **fields,
    )


def _first_timed_sentence(t: str) -> str:
    """Several sentences: the first one that names a time is the time frame; the rest is commentary."""
    sentences = _SENTENCE_BREAK.split(t)
    return next((sentence for sentence in sentences if _quantities(sentence)), t) if len(sentences) > 1 else t


def _normalise(text: str) -> str:
    t = " " + text.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\uff0c", ",") + " "
    t = re.sub(r"\b(up ?to)(?=\d)", r"\1 ", t.replace("up-to", "up to"))
    t = t.replace("\u2264", " up to ").replace(" \u00bd", ".5").replace("\u00bd", ".5")
    t = _A_UNIT.sub("1 ", t)
    t = _NUMBER_WORD.sub(lambda m: str(_NUMBERS[m.group(1)]), t)
    t = _ORDINAL_UNIT.sub(r"\2 \1", t)
    t = _CYCLE_DAY.sub(lambda m: f"cycle-{m.group(1)}-day-{m.group(2)}", t)  # a calendar, not a length
    t = _YEARS_MONTHS.sub(lambda m: f"{int(m.group(1)) * 12 + int(m.group(2))} months", t)
    t = _cycles_in_days(t)
    t = _CYCLE_LENGTH.sub(" ", t)
    t = _CENTRE_TOLERANCE.sub(_centre_tolerance, t)
    return " ".join(t.split())


def _cycles_in_days(t: str) -> str:
    """Where the text says how long a cycle is, "up to 2 cycles" and "up to cycle 12" become days."""
    length = next((m for m in _CYCLE_LENGTH.finditer(t) if m.group(2) or m.group(3)), None)
    if not length or length.group("bound"):  # "a minimum of 29 days": the total is not known
        return t
    days = float(length.group(2) or length.group(3))
    t = re.sub(
        r"\b(up to|through|until)\s+(?:cycle\s+(\d+)|(\d+)\s+cycles?)\b",
        lambda m: f"{m.group(1)} {float(m.group(2) or m.group(3)) * days:g} days",
        t,
    )
    return t


def _centre_tolerance(m: re.Match[str]) -> str:
    """ "28±7 days" → "28 days ±7 days"; "week 12 ± 3 days" keeps its own unit → "week 12 ±3 days"."""
    value, window, unit = m.groups()
    if re.search(r"(?:minute|hour|day|week|month|year|cycle)s?\s*\+?\s*$", m.string[: m.start()]):
        return f"{value} ±{window} {unit}"
    return f"{value} {unit} ±{window} {unit}"


def _unit(word: str) -> str:
    word = word.rstrip("s") if len(word) > 2 else word
    return _UNIT_ALIASES.get(word, word)


def _iso(value: float | list[float] | None, unit: str | None) -> str | None:
    if value is None or unit is None:
        return None
    end = value[-1] if isinstance(value, list) else value
    amount = f"{end:g}"
    designator = ISO[unit]
    return f"PT{amount}{designator[1]}" if designator.startswith("T") else f"P{amount}{designator}"


def _quantities(t: str) -> list[tuple[float, str, int, int]]:
    """Every "N unit" and "unit N" in ``t``: (value, UCUM unit, start, end), in order."""
    found = [(float(m.group(1)), UCUM[_unit(m.group(2))], m.start(), m.end()) for m in _QTY.finditer(t)]
    for m in _POINT.finditer(t):
        if not any(s <= m.start() < e or s < m.end() <= e for _, _, s, e in found):
            found.append((float(m.group(2)), UCUM[_unit(m.group(1))], m.start(), m.end()))
    return sorted(found, key=lambda q: q[2])


def _schedule(t: str) -> dict | None:
    """Several points of one unit: "weeks 4, 16, 24", "baseline, month 3, 6, 12", "day 7 and day 28",
    "1, 2, 3 and 5 years", "12-weeks, 52-weeks"."""
    listed = re.search(
        rf"\b{_UNIT_WORD}\s*{_NUM}((?:\s*(?:,|and|, and|&)\s*{_NUMBER}(?![\d.]*\s*-?\s*{_UNIT_NAME}))+)", t
    )
    trailing = re.search(rf"(?<![\d.+]){_NUM}-?((?:\s*(?:,|and|, and)\s*{_NUMBER}-?)+)\s*{_UNIT_WORD}\b", t)
    if trailing and re.search(r"(?:minute|hour|day|week|month|year|cycle)s?\s*\+?\s*$", t[: trailing.start()]):
        trailing = None
    points: list[float] = []
    unit = None
    if listed:
        unit = UCUM[_unit(listed.group(1))]
        points = [float(listed.group(2)), *map(float, re.findall(_NUMBER, listed.group(3)))]
        span = listed.span()
    elif trailing:
        unit = UCUM[_unit(trailing.group(3))]
        points = [float(trailing.group(1)), *map(float, re.findall(_NUMBER, trailing.group(2)))]
        span = trailing.span()
    else:
        quantities = _quantities(t)
        if len(quantities) < 2:
            return None
        between = [t[a[3] : b[2]] for a, b in pairwise(quantities)]
        if not all(_SEPARATORS.match(gap) for gap in between):
            return None
        common = _common_unit(quantities)
        if not common:
            return None
        unit, points = common
        span = (quantities[0][2], quantities[-1][3])
    rest = t[: span[0]] + " " + t[span[1] :]
    if _quantities(rest):  # another quantity besides the list: not a plain schedule
        return None
    if _BASELINE.search(rest) and 0 not in points:
        points = [0.0, *points]
    return {"kind": "schedule", "value": points, "unit": unit, "end": span[1]}


# Units that convert exactly: within each family, the size of each unit in the family's smallest.
_FAMILIES = ({"min": 1, "h": 60, "d": 1440, "wk": 10080}, {"mo": 1, "a": 12})


def _common_unit(quantities: list[tuple[float, str, int, int]]) -> tuple[str, list[float]] | None:
    """Points in mixed units ("day 1, week 4", "6 months, 1 year") in the smallest unit used, when the
    units convert exactly; zero ("day 0") fits any unit. None when they do not (days and months)."""
    units = {q[1] for q in quantities if q[0] != 0}
    if len(units) <= 1:
        unit = units.pop() if units else quantities[0][1]
        return unit, [q[0] for q in quantities]
    family = next((f for f in _FAMILIES if units <= f.keys()), None)
    if family is None:
        return None
    smallest = min(units, key=family.__getitem__)
    scale = {u: family[u] / family[smallest] for u in units}
    return smallest, [q[0] * scale.get(q[1], 1) for q in quantities]


def _range(t: str) -> dict | None:
    """ "day 1 to day 28 (of cycle 1)", "days 1-28", "from baseline to week 16", "day 0 to day 100"."""
    m = re.search(
        rf"\b{_UNIT_WORD}\s*\+?{_NUM}\s*(?:-|to|through|until|up to)\s*(?:{_UNIT_WORD}\s*)?\+?{_NUM}"
        r"(?![\d.]*\s*-?\s*[a-z]*(?:minute|hour|day|week|month|year))",
        t,
    )
    start_unit = None
    if not m:
        between = re.search(rf"\bbetween\s+{_NUM}\s+and\s+{_NUM}\s*-?\s*{_UNIT_WORD}\b", t)
        if between:
            m = _Reordered(between)
    if not m:
        m = re.search(
            rf"(?<![\d.]){_NUM}\s*(?:{_UNIT_WORD.replace('(', '(?:')}\s*)?(?:-|to)\s*{_NUM}\s*-?\s*{_UNIT_WORD}\b", t
        )
        if m and not re.search(r"(?:minute|hour|day|week|month|year|cycle)s?\s*\+?\s*$", t[: m.start()]):
            m = _Reordered(m)
        else:
            m = None
    if m:
        start_unit, start, end_unit, end = m.group(1), float(m.group(2)), m.group(3), float(m.group(4))
        if end_unit and _unit(end_unit) != _unit(start_unit):
            return None
    else:
        m = re.search(rf"\bbaseline\s*(?:-|to|through|until|up to)\s*{_UNIT_WORD}\s*{_NUM}\b", t)
        if not m:
            return None
        start_unit, start, end = m.group(1), 0.0, float(m.group(2))
    rest = t[: m.start()] + " " + t[m.end() :]
    if _quantities(rest) or end <= start or _BASELINE.search(rest):
        return None
    fields: dict = {"kind": "duration", "value": [start, end], "unit": UCUM[_unit(start_unit)], "end": m.end()}
    cycle = re.search(r"\b(?:of|in)\s+(cycle \d+)", rest)
    if cycle:
        fields["anchor"] = cycle.group(1)
    return fields


class _Reordered:
    """A "14-30 days" match read like a "day 14 to day 30" one: (unit, start, unit, end)."""

    def __init__(self, match: re.Match[str]) -> None:
        self._m = match
        self._groups = (match.group(3), match.group(1), match.group(3), match.group(2))

    def group(self, i: int) -> str:
        return self._groups[i - 1]

    def start(self) -> int:
        return self._m.start()

    def end(self) -> int:
        return self._m.end()


def _bounded(t: str) -> dict | None:
    """The longest "up to / within / through / maximum N unit" (the window every other time falls in),
    or "an average of N unit"."""
    quantities = _quantities(t)
    if not quantities:
        return None
    bounded = [q for q in quantities if _UP_TO.search(t[: q[2]])]
    averaged = [q for q in quantities if _AVERAGE.search(t[: q[2]])]
    if bounded:
        value, unit, start, stop = max(bounded, key=lambda q: q[0] * DAYS[q[1]])
        if any(q[0] * DAYS[q[1]] > value * DAYS[unit] for q in quantities):
            return None  # a time beyond the window: the text says something else
        about = bool(re.search(r"(?:approximately|about|around|~)\s*$", t[:start]))
        return {"kind": "duration", "value": value, "unit": unit, "comparator": "<=~" if about else "<=", "end": stop}
    if averaged:
        value, unit, _, stop = averaged[-1]
        if all(q[0] * DAYS[q[1]] <= value * DAYS[unit] for q in quantities):
            return {"kind": "duration", "value": value, "unit": unit, "comparator": "~", "end": stop}
    return None


def _single(t: str) -> dict | None:
    """One quantity: "3 years", "approximately 12 months", "day 7", "30 days post infusion", "at week 8"."""
    quantities = _quantities(t)
    if len(quantities) != 1:
        start = re.fullmatch(
            rf"(?:at\s+(?:the\s+time\s+of\s+)?|date of\s+)?(?:patient\s+)?{_START}\b(?:\s*\([^)]*\))?\.?", t
        )
        if not quantities and start:
            return {"kind": "timepoint", "value": 0.0, "unit": None, "anchor": start.group(1)}
        return None
    value, unit, start, end = quantities[0]
    before, matched = t[:start], t[start:end]
    point = bool(re.match(r"[a-z]", matched))  # "day 7": counted from day 0
    relative = re.match(r"\s*(?:after|post|following|prior to|before)\b", t[end:])
    at = re.search(r"\b(?:at|on|by|in|during week|visit)\s*$", before)
    fields: dict = {"value": value, "unit": unit, "end": end}
    if _ABOUT.search(before):
        fields["comparator"] = "~"
    elif _AT_LEAST.search(before):
        fields["comparator"] = ">="
    if _BASELINE.search(t):
        return {"kind": "schedule", "value": [0.0, value], "unit": unit, "end": end}
    if relative and re.search(r"\buntil\b.*\bor\s+$", before):
        return fields | {"kind": "duration", "comparator": "<="}  # "until progression, or 12 months after X"
    if not (point or relative or at or "comparator" in fields) and len(t) > 60 and start > 25:
        return None  # a bare length buried in a long sentence ("a single value of 1 day") is not the frame
    fields["kind"] = "timepoint" if (point or relative or at) else "duration"
    return fields


def _anchor(t: str, after: int | None) -> str | None:
    """What the time counts from: "after infusion", "from randomization", "post-transplant": the phrase
    right after the time the frame is read from, else one that opens the text."""

    def at_time(m: re.Match[str]) -> bool:
        return after is not None and m.start() >= after and t[after : m.start()].strip(" ()") == ""

    candidates = [m for m in _ANCHOR.finditer(t) if at_time(m)] + [m for m in _ANCHOR.finditer(t) if m.start() == 0]
    for m in candidates:
        words = m.group(2).strip()
        if words.startswith("cycle") and m.group(1) in ("of", "in"):
            return words
        if (
            _quantities(words)
            or re.search(rf"\d\s*-?\s*{_UNIT_NAME}", words)
            or re.match(r"(?:\d|(?:and|or|minute|hour|day|week|month|year|cycle)s?\b)", words)
        ):
            continue
        if m.group(1) == "of":
            continue
        if re.search(r"\s\d+$", words):
            return None  # cut off at a number ("after completion of 1 or 2 courses"): say nothing
        return f"{m.group(1)} {words}"
    return None
