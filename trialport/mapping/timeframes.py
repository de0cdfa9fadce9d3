"""Outcome time frames: the registry's free text read into a TimeFrame.

``Up to 2 years`` → duration 2 a (P2Y), comparator ``<=``; ``Day 30 (±2)`` → timepoint 30 d, tolerance
``±2 d``; ``Weeks 4, 16, 24`` → schedule [4, 16, 24] wk; ``Day 1 to Day 28 of Cycle 1`` → duration
[1, 28] d anchored at cycle 1. Units are UCUM (min, h, d, wk, mo, a). The text is always kept. What the
rules cannot read with confidence stays ``unparsed``: an honest answer, where a wrong parse is a bug.

Nested schedules: "Pre dose, 1, 2 hours post dose on Cycle 1 Day 1; and ... on Cycle 1 Day 7" → schedule
[1, 7] d whose ``points`` each hold ``within`` the hours after the dose ([0, 1, 2] h, pre-dose 0 h); "100 days,
6 months" → ``points`` 100 d and 6 mo (``value`` None: days and months do not convert exactly). The plain
rules run first; the list and dose readers only see what they left unparsed, so they cost nothing on the
common frames.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
_HALF_UNIT = re.compile(r"\bhalf\s+(?:an?|one)\s+(?=(?:hour|day|week|month|year)\b)")  # "half an hour"
# "H0+24h", "J0+180 days": hours or days counted from a time zero (H0) or day zero (J0, "jour 0") the record
# defines; "1h30" is 1.5 h
_CLOCK = re.compile(r"\b([hj])0\s*\+\s*(\d+(?:\.\d+)?\s*(?:h|hours?|days?)\b)")
_HOURS_MINUTES = re.compile(r"\b(\d+)h([0-5]\d)\b")
_ORDINAL_UNIT = re.compile(r"\b(\d+)(?:st|nd|rd|th|\.)\s+(minute|hour|day|week|month|year)\b")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7}
# "First day", "on the second day": a day counted from day 1 (not "the first 3 months", "during the first year")
_ORDINAL_FRAME = re.compile(r"^\s*(?:on\s+)?(?:the\s+)?(" + "|".join(_ORDINALS) + r")\s+(day|week)\b")
_UNIT_WORD = r"(minute|min|hour|hr|h|day|d|week|wk|month|mo|year|yr)s?"
_UNIT_NAME = r"(?:minute|min|hour|hr|h|day|d|week|wk|month|mo|year|yr)s?\b"
_UNIT_ALIASES = {"min": "minute", "hr": "hour", "h": "hour", "d": "day", "wk": "week", "mo": "month", "yr": "year"}
_NUM = r"(\d+(?:\.\d+)?)"
_NUMBER = r"\d+(?:\.\d+)?"  # the same, not captured
_BEFORE_BASELINE = re.compile(r"\bpre-?baseline\s*\(\s*(day|week|month|year)\s*-\s*(\d+)\s*\)(?=\s*$)")  # "(month -3)"
# "from baseline (week 0) to end of treatment (week 68)": the times in brackets are the range
_LABELLED_RANGE = re.compile(
    rf"^\s*(?:from\s+)?[a-z][a-z -]*?\(\s*{_UNIT_WORD}\s*{_NUM}\s*\)\s*(?:to|until|through)\s+"
    rf"[a-z][a-z -]*?\(\s*{_UNIT_WORD}\s*{_NUM}\s*\)\s*$"
)
_WEEKS_W = re.compile(r"(?<=\d)w\b")  # "24w"
# "3 months intervention + 1 month after": one span after the other, in one unit
_SUM = re.compile(
    rf"{_NUM}\s*-?\s*{_UNIT_WORD}\b\s+(?:of\s+)?(?:intervention|treatment|therapy)\s*(?:\+|and|followed by)\s*"
    rf"{_NUM}\s*-?\s*{_UNIT_WORD}\b\s+(?:of\s+follow-?up|after\s+(?:the\s+)?(?:intervention|treatment|therapy))\b"
    rf"|{_NUM}\s*-?\s*{_UNIT_WORD}\b\s*()\+\s*{_NUM}\s*-?\s*{_UNIT_WORD}\b"
)
# "2 years", "12-week", "2-years"
_QTY = re.compile(rf"(?<![\d.:/±])(?<![a-z]-){_NUM}\s*-?\s*{_UNIT_WORD}\b")
# "day 30", "week 4", "day +100", "month 6"
_POINT = re.compile(rf"\b{_UNIT_WORD}\s*\+?\s*{_NUM}(?![\d.]*\s*-?\s*(?:minute|hour|day|week|month|year|mg|ml|%))")
_UP_TO = re.compile(
    r"(?:\b(?:up to|upto|within|through|thru|until|untill|till|to|for up to|a maximum of|maximum of|maximum|max|"
    r"at most|no more th[ae]n?|not exceeding|no longer than|assessed at|assessed up to|assessed for|by|up|across|"
    r"assessed(?=\s+(?:approximately|about|around))|up to end of (?:the )?study at)\s+"
    r"|(?<=\()max\.\s*|\bmaximum(?: follow-up)?\s*[=:]\s*)"
    r"(?:of\s+)?(?:the\s+)?(?:first\s+)?"
    r"(?:approximately\s+|about\s+|around\s+|~\s*)?$"
)
_UP_TO_ONLY = re.compile(r"\bup ?to\s+(?:the\s+)?$")  # "up to day 168, or 204 days": a window, not a list
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
    r"(?:is of|is|=|of|consists of|lasts|average is|:)\s*"
    rf"(?P<bound>a minimum of\s+|at least\s+|approximately\s+|max(?:imum)?\.?\s+(?:of\s+)?)?{_NUM}\s*-?\s*days?"
    r"\s*(?:long|each)?\s*\)?"
    rf"|\(?\s*{_NUM}\s*-?\s*days?(?:\s+(?:treatment\s+)?|\s*/\s*)(?:cycle|course)s?\s*\)?"
    r"|\(?\s*assessed as day \d+\s*\)?|\(\s*day\s*[01]\s*\)"
)
# With the length of a cycle known: the phrases that count in cycles (see _cycles_in_days)
_CYCLE_DAY_TOKEN = re.compile(r"\bcycle-(\d+)-day-(\d+)\b")
_END_OF_CYCLES = re.compile(
    r"\b(after\s+|(?:the\s+)?end\s+of\s+)(?:the\s+)?(?:cycle|course)s?\s+(\d+(?:\s*(?:,|and|&)\s*(?:cycle\s+)?\d+)*)\b"
    r"|\b(after\s+)(\d+)\s+(?:cycle|course)s\b"
)
_CYCLE_SPAN = re.compile(
    r"\b(?:cycles|courses)\s+(\d+)\s*(?:-|to)\s*(\d+)\b"
    r"|(?:^\s*|\b(?:during|in)\s+(?:the\s+)?)(?:cycle|course)\s+(\d+)(?=\s*(?:of [a-z ]+)?$)"
)
_UP_TO_CYCLES = re.compile(r"\b(up to|through|until)\s+(?:cycle\s+(\d+)|(\d+)\s+cycles?)\b")
_CYCLES = re.compile(r"(?<![\d.])(\d+)\s+(?:treatment\s+)?(?:cycle|course)s\b")
_CYCLE_DAY = re.compile(r"\bcycle\s*(\d+)\s*,?\s*day\s*(\d+)\b")
_YEARS_MONTHS = re.compile(r"\b(\d+)\s*years?\s*(?:and\s*)?(\d+)\s*months?\b")
_CENTRE_TOLERANCE = re.compile(rf"{_NUM}\s*\(?\s*(?:±|\+/-)\s*{_NUM}\s*\)?\s*{_UNIT_WORD}\b")
_START = r"(baseline|inclusion|enrol+ment|recruitment|admission|randomi[sz]ation|screening)"
# A time named by an event: "at delivery", "on the day of delivery", "at time of radical cystectomy"
_EVENT = re.compile(
    r"(?:at\s+(?:the\s+)?(?:time\s+of\s+)?|on\s+(?:the\s+day\s+of\s+)?|upon\s+|date of\s+)?(?:patient\s+)?"
    rf"(?P<event>{_START}|delivery|birth|discharge|(?:[a-z]+\s+)?[a-z]+ectomy)(?:\s+time)?(?:/[a-z]+)?"
    r"(?:\s*\([^)]*\))?\.?"
)
_TIME_OF = re.compile(
    r"(?:at\s+)?(?:the\s+)?time\s+of\s+(?:the\s+)?(?P<event>surgery|operation|procedure|treatment|intervention)\.?"
)
# "from enrollment to the end of rehabilitation at 3 weeks": the time ends a span that starts with the text
_SPAN_TO = re.compile(r"^\s*from\b[^,;]*\b(?:to|until|till)\b")
# "after vaccination 2", "after dose 3": an anchor that ends in the number of an event
_NUMBERED_EVENT = re.compile(r"\b(?:vaccination|immuni[sz]ation|dose|injection|infusion|visit|surgery|session)\s+\d+$")
_IMMEDIATELY = re.compile(r"immediate(?:ly)?\s+(?P<event>after\s+[a-z][a-z ]*?)\.?")
# A starting point named as a time of its own ("baseline, week 12", "before and 12 months after"), not
# as what a time counts from ("day 7 from baseline").
_BASELINE = re.compile(
    r"(?<!from )(?<!since )(?<!after )(?<!before )(?<!post-)(?<!post )\bbaseline\b(?! to\b| up to\b| until\b)"
    r"|\bbefore and\b|\bpre[- ]?(?:dose|treatment|infusion)\b"
    r"|\b(?:enrol+ment|screening|admission) and\b|^before\b[^,.;]*\band\b"
)
_LIST_GOES_ON = re.compile(r"\s*(?:,|and|&)\s*\d")  # "baseline to weeks 8 and 16": a list, not a range
_TO_THE_LIST = re.compile(r"\bbaseline\s+(?:to|through|until)\s+$")
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
        nested = _dosed(clean) or _listed(clean)
        return TimeFrame(text=text, **nested) if nested else TimeFrame(text=text)
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
    t = _A_UNIT.sub("1 ", _HALF_UNIT.sub("0.5 ", t) if "half" in t else t)
    t = _NUMBER_WORD.sub(lambda m: str(_NUMBERS[m.group(1)]), t)
    t = _ORDINAL_UNIT.sub(r"\2 \1", _WEEKS_W.sub(" weeks", t.replace("\u3001", ",")))
    if "0+" in t or "0 +" in t:
        t = _HOURS_MINUTES.sub(lambda m: f"{int(m.group(1)) + int(m.group(2)) / 60:g}h", t)
        t = _CLOCK.sub(lambda m: f"{m.group(2)} after {'time zero' if m.group(1) == 'h' else 'j0'}", t)
    t = _ORDINAL_FRAME.sub(lambda m: f"{m.group(2)} {_ORDINALS[m.group(1)]}", t)
    if "+" in t or "follow" in t:
        t = _SUM.sub(_sum, t)
    if "baseline" in t and "pre" in t:
        t = _BEFORE_BASELINE.sub(r"\2 \1s before baseline", t)
    t = _CYCLE_DAY.sub(lambda m: f"cycle-{m.group(1)}-day-{m.group(2)}", t)  # a calendar, not a length
    t = _YEARS_MONTHS.sub(lambda m: f"{int(m.group(1)) * 12 + int(m.group(2))} months", t)
    t = _cycles_in_days(t)
    t = _CYCLE_LENGTH.sub(" ", t)
    t = _CENTRE_TOLERANCE.sub(_centre_tolerance, t)
    if ")" in t:
        t = _LABELLED_RANGE.sub(r"\1 \2 to \3 \4", t)
    return " ".join(t.split())


def _sum(m: re.Match[str]) -> str:
    """ "3 months intervention + 1 month after" → "4 months after"; left as it is when the units differ."""
    a, unit_a, b, unit_b = (m.group(i) for i in ((1, 2, 3, 4) if m.group(1) else (5, 6, 8, 9)))
    if _unit(unit_a) != _unit(unit_b):
        return m.group(0)
    return f"{float(a) + float(b):g} {_unit(unit_a)}s"


def _cycles_in_days(t: str) -> str:
    """Where the text says how long a cycle is (L days), cycles become days, counted from day 1 of cycle 1:
    "cycle 2 day 8" → day L+8, "(the) end of cycle 2" and "after cycle 2" → day 2L, "cycles 1-6" → days 1 to
    6L, "during cycle 1" → days 1 to L, "up to cycle 12" and "12 cycles" → 12L days."""
    length = next((m for m in _CYCLE_LENGTH.finditer(t) if m.group(2) or m.group(3)), None)
    if not length or length.group("bound"):  # "a minimum of 29 days": the total is not known
        return t
    days = float(length.group(2) or length.group(3))

    def day(cycle: str, within: float = 0) -> str:
        return f"day {(float(cycle) - (1 if within else 0)) * days + within:g}"

    t = _CYCLE_LENGTH.sub(" ", t)
    if "cycle-0-" not in t:  # a cycle 0 comes before day 1: the days of cycles stay as they are
        t = _CYCLE_DAY_TOKEN.sub(lambda m: day(m.group(1), float(m.group(2))), t)
    t = _END_OF_CYCLES.sub(_end_of_cycles(day), t)
    t = _CYCLE_SPAN.sub(lambda m: f" {day(m.group(1) or m.group(3), 1)} to {day(m.group(2) or m.group(3))}", t)
    t = _UP_TO_CYCLES.sub(lambda m: f"{m.group(1)} {float(m.group(2) or m.group(3)) * days:g} days", t)
    return _CYCLES.sub(lambda m: f"{float(m.group(1)) * days:g} days", t)


def _end_of_cycles(day: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        numbers = re.findall(r"\d+", m.group(2) or m.group(4))
        if m.group(4):  # "after 2 cycles": the end of the second
            numbers = numbers[-1:]
        return ("at " if (m.group(1) or m.group(3)).startswith("after") else "") + " and ".join(map(day, numbers))

    return replace


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
    if (
        _quantities(rest) or len(set(points)) < len(points) or _UP_TO_ONLY.search(t[: span[0]])
    ):  # another quantity, or one twice: not a plain list
        return None
    if (_BASELINE.search(rest) or _TO_THE_LIST.search(t, 0, span[0])) and 0 not in points:
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
    if _quantities(rest) or end <= start or _BASELINE.search(rest) or _LIST_GOES_ON.match(t, m.end()):
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
        start = _EVENT.fullmatch(t) or _IMMEDIATELY.fullmatch(t) or _TIME_OF.fullmatch(t)
        if not quantities and start:
            return {"kind": "timepoint", "value": 0.0, "unit": None, "anchor": start.group("event")}
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
    if (relative or at) and _SPAN_TO.match(before):
        return fields | {"kind": "duration"}  # the span's end: how long it lasts
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
        if re.search(r"\s\d+$", words) and not _NUMBERED_EVENT.search(words):
            return None  # cut off at a number ("after completion of 1 or 2 courses"): say nothing
        return f"{m.group(1)} {words}"
    return None


# Nested schedules: days (of a cycle) or weeks, each with times counted from the dose given then.
_LIST = rf"{_NUMBER}(?:\s*(?:,|and|, and|&)\s*{_NUMBER})*"
_DOSED_AT = re.compile(
    r"(?:at\s+|on\s+)?(?:cycle-(?P<cycle>\d+)-day-(?P<day>\d+)"
    rf"|days?\s+(?P<days>{_LIST})(?:,?\s*(?:of\s+)?cycle\s+(?P<of>\d+))?"
    rf"|weeks?\s+(?P<week>{_LIST}))(?:\s+of\s+(?:daily\s+)?dosing)?"
    r"(?:\s+(?P<after>after\s+[a-z][a-z -]*?))?(?:\s+for\s+(?:both\s+)?phase\b[a-z ]*)?"
)
_DOSED_TIMES = re.compile(
    r"(?:at\s+)?(?:times?\s+)?(?:(?P<pre>pre[- ]?dose|predose)(?:\s*(?:,|and|, and)\s*(?=\d)|$))?"
    rf"(?:(?P<list>{_LIST})\s*(?P<unit>hours?|hrs?|h|minutes?|mins?)\b"
    r"(?:\s+(?P<post>(?:post|after)[- ]?\s*(?:[a-z][a-z0-9-]*\s+)?(?:dose|dosing|infusion)))?)?"
)
_DOSED_SPLIT = re.compile(
    r"\s*;\s*(?:and\s+)?|\s+and\s+(?=times?\s|(?:day|week)\s+\d+\s+at\s)|,?\s+and\s+(?=(?:week|day|cycle-)[^:]*:)|,\s*(?=(?:week|day|cycle-)[^:]*:)"
)
_DOSED_HINT = re.compile(r":| on | during |\bdos(?:e|ing)\b")
_DOSED_START = re.compile(r"(baseline)")


def _dosed(t: str) -> dict | None:
    """ "cycle 1, day 1: predose and 0.5, 1, 2 hours postdose", "pre dose, 1, 2 hours post dose on cycle 1
    day 1; and ...", "week 4: pre-dose; week 8: pre-dose", "baseline, cycle 1 day 4: 2 hours": the days (or
    weeks) as points, each with the times of that day in ``within``."""
    t = t.strip(" .,")
    if not _DOSED_HINT.search(t):
        return None
    points: list[TimeFrame] = []
    for segment in _DOSED_SPLIT.split(t):
        if _DOSED_START.fullmatch(segment):
            points.append(TimeFrame(text=_words(segment), kind="timepoint", value=0.0, anchor=segment))
            continue
        at, times = _dosed_parts(segment)
        if at is None or times is None:
            return None
        within = _dosed_within(times)
        if times.group("list") is None and times.group("pre") is None:
            return None
        if at.group("week"):
            days, unit, cycle = [float(n) for n in re.findall(_NUMBER, at.group("week"))], "wk", None
        else:
            days = [float(n) for n in re.findall(_NUMBER, at.group("day") or at.group("days"))]
            unit, cycle = "d", at.group("cycle") or at.group("of")
        for day in days:
            anchor = f"cycle {cycle}" if cycle else at.group("after")
            points.append(
                TimeFrame(
                    text=_words(segment),
                    kind="timepoint",
                    value=day,
                    unit=unit,
                    iso8601=_iso(day, unit),
                    anchor=anchor,
                    within=within,
                )
            )
    return _gathered(points) if points and any(p.within for p in points) else None


def _words(text: str) -> str:
    """A point's words as written: "cycle 1 day 8", not the token the rules read it as."""
    return _CYCLE_DAY_TOKEN.sub(r"cycle \1 day \2", text)


def _dosed_parts(segment: str) -> tuple[re.Match[str] | None, re.Match[str] | None]:
    if ":" in segment:
        at, times = segment.split(":", 1)
    elif " on " in segment or " during " in segment:
        times, at = re.split(r" (?:on|during) ", segment, maxsplit=1)
    elif " at " in segment:  # "day 2 at 24 hours"
        at, times = segment.split(" at ", 1)
    elif ", " in segment:  # "day 1, cycle 1, 2 hours after capecitabine dose"
        at, times = segment.rsplit(", ", 1)
    else:
        return None, None
    return _DOSED_AT.fullmatch(at.strip()), _DOSED_TIMES.fullmatch(times.strip())


def _dosed_within(times: re.Match[str]) -> TimeFrame:
    values = [0.0] if times.group("pre") else []
    if times.group("list"):
        values += [float(n) for n in re.findall(_NUMBER, times.group("list"))]
    unit = UCUM[_unit(times.group("unit"))] if times.group("unit") else "h"
    anchor = times.group("post") or (times.group("pre") if not times.group("list") else None)
    if len(values) == 1:
        return TimeFrame(
            text=times.group(0),
            kind="timepoint",
            value=values[0],
            unit=unit,
            iso8601=_iso(values[0], unit),
            anchor=anchor,
        )
    return TimeFrame(text=times.group(0), kind="schedule", value=values, unit=unit, anchor=anchor)


def _gathered(points: list[TimeFrame]) -> dict:
    """Points into one frame: one point is a timepoint; points of one unit and anchor a schedule of their
    values; else a schedule whose value is None, the points saying it all."""
    if len(points) == 1:
        return points[0].model_dump(exclude={"text"})
    units, anchors = {p.unit for p in points}, {p.anchor for p in points}
    if len(units) == 1 and len(anchors) == 1 and None not in units:
        return {
            "kind": "schedule",
            "value": [p.value for p in points],
            "unit": units.pop(),
            "anchor": anchors.pop(),
            "points": points,
        }
    return {"kind": "schedule", "points": points}


# Lists of times that the plain schedule cannot hold: units that do not convert exactly, a window or an
# anchor of their own, labels ("end of study (6 weeks post-baseline)"), a number whose unit comes later.
_ANCHOR_WORDS = r"(?:post|after|following)[- ]?\s*[a-z][a-z /-]*|postoperative(?:ly)?"
_ITEM = re.compile(
    rf"(?:(?P<before>post-?operative|post-?transplant|pregnancy)\s+)?"
    rf"(?:{_UNIT_WORD}\s*\+?\s*{_NUM}|{_NUM}(?:\s*-\s*(?P<to>{_NUMBER}))?\s*-?\s*{_UNIT_WORD}-?)"
    rf"(?:\s*\(?\s*(?:\u00b1|\+/-)\s*(?P<window>{_NUMBER})\s*(?P<window_unit>{_UNIT_NAME})?\s*\)?)?"
    rf"(?:\s+(?P<after>{_ANCHOR_WORDS}))?"
)
_LABELLED = re.compile(r"[a-z][a-z -]*\((?P<inner>[^()]*)\)")
_BARE = re.compile(rf"{_NUM}-?(?:\s+(?P<after>{_ANCHOR_WORDS}))?")
_ITEM_NUMBER = re.compile(r"\(\d\)\s*|\bt\d:\s*")  # "(1) baseline, (2) ...", "t1: 24 hours and t2: 48 hours"
_ITEM_GROUP = re.compile(
    r"\b(?:during\s+)?[a-z][a-z -]*?\s*\(\s*(?:at\s+)?([^()]*,[^()]*)\)"
)  # "period (day 1, day 2)"
_ITEM_NAMED = re.compile(r"(?:pre|post)-[a-z]+\s+(?=\d)")  # "post-intervention 1 week after ...": the time
_FROM_BASELINE = re.compile(r"(?:post|after|from)[- ]?\s*(?:the\s+)?baseline")
_CYCLE_ITEM = re.compile(r"cycle-(\d+)-day-(\d+)")
_ITEM_START = re.compile(r"(?:baseline|pre[- ]?(?:dose|treatment|infusion|intervention)|screening(?: period)?)")
_ITEM_SPLIT = re.compile(r"\s*[,;:]\s*(?:and\s+|&\s+)?|\s+(?:and|&)\s+")
_ITEM_PREFIX = re.compile(
    r"^(?:[a-z ]*?\b(?:will be|are|is)\s+(?:taken|assessed|measured|collected|evaluated|performed)\s+)?"
    r"(?:[^:]*\b(?:occasions?|times)\b[^:]*:\s*)?(?:assessed\s+)?(?:at\s+)?"
)
_ITEM_LABEL = re.compile(r"\s+(?:survey|visit|assessment)s?$")
_ITEM_GAP = re.compile(rf"(\d\s*-?\s*({_UNIT_NAME}))\s+(?=\d+\s*-?\s*\2)")


def _listed(t: str) -> dict | None:
    """ "100 days, 6 months, 1 and 2 years", "24 hours postoperatively, 2 weeks (± 4 days) postoperatively",
    "baseline, pre-intervention (2 weeks post-baseline), end of study (6 weeks post-baseline)"."""
    t = t.strip(" .,")
    t = t[:-1] if t.endswith(")") and t.count(")") > t.count("(") else t
    t = _ITEM_GAP.sub(r"\1, ", _ITEM_PREFIX.sub("", _ITEM_GROUP.sub(r", \1", _ITEM_NUMBER.sub("", t))))
    items = [i for i in _ITEM_SPLIT.split(t) if i]
    if len(items) < 2 or any(i.count("(") != i.count(")") for i in items):
        return None
    read = [_item(i) for i in items]
    if any(r is None for r in read) or not _units_of_bare(read):
        return None
    _anchors_of_bare(read)
    if any(r["text"] == "baseline" for r in read):  # a list from baseline counts from baseline anyway
        for r in read:
            r["anchor"] = None if r["anchor"] and _FROM_BASELINE.fullmatch(r["anchor"]) else r["anchor"]
    timed = [r for r in read if r["unit"]]
    if len(timed) < 2 or (len({r["anchor"] for r in timed}) > 1 and any(r["anchor"] is None for r in timed)):
        return None
    timed = _once(timed)
    if timed is None or not _in_order(timed):
        return None  # not in order, or a time twice: something else than a list of times
    starts = [r for r in read if not r["unit"]]
    points = [
        TimeFrame(
            text=_words(r["text"]),
            kind="timepoint",
            value=r["value"],
            unit=r["unit"],
            iso8601=_iso(r["value"], r["unit"]),
            tolerance=r["tolerance"],
            anchor=r["anchor"],
        )
        for r in timed
    ]
    ranged = any(isinstance(p.value, list) for p in points)
    common = None if ranged else _common_unit([(p.value, p.unit, 0, 0) for p in points])
    anchors = {p.anchor for p in points}
    if common and len(anchors) == 1 and not any(p.tolerance for p in points):
        unit, values = common
        return {"kind": "schedule", "value": [0.0] * bool(starts) + values, "unit": unit, "anchor": anchors.pop()}
    starts = [TimeFrame(text=r["text"], kind="timepoint", value=0.0, anchor=r["text"]) for r in starts[:1]]
    return _gathered(starts + points)


def _in_order(timed: list[dict]) -> bool:
    """Times of one anchor come in order, each once; else the words are something else than a list of times."""
    last: dict = {}
    for r in timed:
        days = (r["value"][-1] if isinstance(r["value"], list) else r["value"]) * DAYS[r["unit"]]
        if days <= last.get(r["anchor"], float("-inf")):
            return False
        last[r["anchor"]] = days
    return True


def _read(text: str, form: str, value: float | list[float], unit: str | None = None, **more: object) -> dict:
    return {"text": text, "form": form, "value": value, "unit": unit, "anchor": None, "tolerance": None} | more


def _item(text: str) -> dict | None:
    """One time of a list: a starting point, "day 30", "2 weeks (± 4 days) postoperatively", "cycle 2 day 1",
    "end of study (6 weeks post-baseline)", or a bare number whose unit is given by its neighbours."""
    text = _ITEM_NAMED.sub("", _ITEM_LABEL.sub("", text.removeprefix("at ").strip()))
    if _ITEM_START.fullmatch(text):
        return _read(text, "start", 0.0)
    cycle = _CYCLE_ITEM.fullmatch(text)
    if cycle:
        return _read(text, "day", float(cycle.group(2)), "d", anchor=f"cycle {cycle.group(1)}", before=True)
    labelled = _LABELLED.fullmatch(text)
    m = _ITEM.fullmatch(labelled.group("inner").strip() if labelled else text)
    if m:
        unit = UCUM[_unit(m.group(2) or m.group(6))]
        window, window_unit = m.group("window"), m.group("window_unit")
        tolerance = f"±{float(window):g} {UCUM[_unit(window_unit)] if window_unit else unit}" if window else None
        value = float(m.group(3) or m.group(4))
        return _read(
            text,
            "unit first" if m.group(2) else "unit after",
            [value, float(m.group("to"))] if m.group("to") else value,
            unit,
            anchor=m.group("before") or m.group("after"),
            tolerance=tolerance,
            before=bool(m.group("before")),
        )
    bare = _BARE.fullmatch(text)
    return _read(text, "bare", float(bare.group(1)), anchor=bare.group("after")) if bare else None


def _units_of_bare(read: list[dict]) -> bool:
    """A bare number takes the unit of the list it continues ("month 1, 3") or ends in ("1 and 2 years");
    False where that is not one unit."""
    i = 0
    while i < len(read):
        if read[i]["form"] != "bare":
            i += 1
            continue
        j = i
        while j + 1 < len(read) and read[j + 1]["form"] == "bare":
            j += 1
        units = set()
        if i > 0 and read[i - 1]["form"] == "unit first":  # "week 23, 30 and 40, and 1 month": the list goes on
            units.add(read[i - 1]["unit"])
        elif j + 1 < len(read) and read[j + 1]["form"] == "unit after":
            units.add(read[j + 1]["unit"])
        if len(units) != 1:
            return False
        for r in read[i : j + 1]:
            r["unit"] = next(iter(units))
        i = j + 1
    return True


def _anchors_of_bare(read: list[dict]) -> None:
    """An anchor before a list ("pregnancy week 23, 30") holds for the numbers that continue it; one after
    ("1, 3 and 6 months postdelivery", "day 30, 6 months post-transplant") for every time before it that has
    none of its own."""
    for a, b in pairwise(read):
        if b["form"] == "bare" and not b["anchor"] and a.get("before"):
            b["anchor"], b["before"] = a["anchor"], True
    for later, earlier in pairwise(reversed(read)):
        if earlier["unit"] and not earlier["anchor"] and later["anchor"] and not later.get("before"):
            earlier["anchor"] = later["anchor"]
    for a, b in pairwise(read):
        if b["unit"] and not b["anchor"] and a.get("before") and b["form"] != "day":
            b["anchor"], b["before"] = a["anchor"], True


def _once(timed: list[dict]) -> list[dict] | None:
    """The same list written twice ("month 1, 3, 6, at baseline, month 1, 3, 6") read once."""
    half = len(timed) // 2
    key = [(r["value"], r["unit"], r["anchor"]) for r in timed]
    if len(timed) % 2 == 0 and key[:half] == key[half:]:
        return timed[:half]
    return timed
