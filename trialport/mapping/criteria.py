"""The eligibility criteria block cut into its inclusion and exclusion criteria, one item each.

Registries publish eligibility as one free-text block; people filtering trials want the criteria one by
one. ``split`` reads the block once:

- Kind headings open a section: ``Inclusion Criteria:`` / ``Exclusion criteria`` in any case, with or
  without colon, a list marker or brackets, with a prefix (``Key``, ``Main``, ``Other``, ``Transplant``
  ..., a group's name: ``Dementia with Lewy bodies exclusion criteria``) or a qualifier (``for part A``,
  ``(all patients)``, ``- participants are eligible if they:``, ``stage 2``); ``Non-inclusion criteria``
  is exclusion. A heading never becomes an item: it stays in the block.
- Items start at a list marker (``*`` ``-`` ``•`` ``+`` ``o``, ``1.`` ``1)`` ``(1)``, ``a.`` ``a)``
  ``(a)``, ``i.`` ``(ii)``), removed from the item's text. A list inside an item (deeper indentation, or
  a change of marker kind after an item that ends with ``:`` or at a list restarting at 1 / a / i)
  stays with its item: each sub-item on a line of its own as ``- text``, a sub-sub-item ``  - text``.
  Numbering decides where a nested list of the same kind ends (``7.`` ``1.`` ``2.`` ``8.``).
- Indentation (the readers keep each line's, less the block's own) decides nesting when the markers have
  several: a more-indented item is a sub-item of the item above, a less-indented one closes the sub-list.
  Without indentation, a bullet ending with ``:`` owns the bullets after it that read as its values
  (lower-case, or a measure such as ``ALT < 2.5 x ULN``).
- A paragraph indented under an item after a blank line: a wrapped sentence joins it; a new paragraph under
  an item of the outermost list is its sub-line; under a sub-item it joins that sub-item. Two or more
  sentences ending with ``:`` each over an indented list are groups (each an item owning its list); a single
  one is the section's lead-in.
- A line without a marker right below an item continues it (a hard wrap: joined with one space), or is
  its sub-item when the item ends with ``:``. After a blank line it is a part heading (``Laboratory
  values:``, ``Group 1``, an ALL-CAPS line, a lead-in such as ``Patients must meet all of the following:``)
  when it ends with ``:`` or is short and followed by items; otherwise it is an item of its own.
- A block without any marker gives one item per line; a line ending with ``:`` keeps the lines below it
  (up to the next blank line) as its sub-items, unless it is the section's lead-in.
- Notes (``Note:``, ``N.B.``, the sponsor's "The information listed above is not intended ...") are not
  criteria: they stay only in the block.
- Withdrawal criteria (``Elimination criteria:``, ``Discontinuation criteria`` ...) are a third kind: their
  lines belong to neither list. A short description (up to three unmarked lines) before both headings
  is not criteria.

What cannot be split with confidence gives empty lists and a ``problem``: a block without any inclusion
or exclusion heading (the old ``DISEASE CHARACTERISTICS:`` style), a heading naming both kinds or
neither (``Inclusion/Exclusion:``), criteria text before the first heading, several eligibility sets
(an inclusion heading in a sentence after the exclusion criteria), a heading inside a list item,
exclusion criteria after non-inclusion criteria (they are then withdrawal criteria), or an outermost
numbered list that starts again at 1. An exclusion is never guessed into inclusion.

Speed: most blocks have the usual headings and flat lists; those are cut at the headings and their
items taken with whole-section string operations (``_usual``); a section of bullets and numbers nested by
indentation is read in one pass without building its lines (``_indented_list``); other sections, and
other blocks, are read line by line. Both readings give the same items (tests/test_criteria.py checks it
on every real block). Regular expressions are compiled once. Where a C compiler is present, the install
compiles this module with Cython (``setup.py``), and ``split`` is the compiled one, about a quarter faster.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple


class Criteria(NamedTuple):
    inclusion: list[str]
    exclusion: list[str]
    problem: str | None


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}

_MARKER = re.compile(
    r"(?:(?P<bullet>[•●▪◦‣■□➢►✓·]|[*+–o](?=\s)|-(?=\s|[A-Z(<>≥≤]))"
    r"|(?P<num>\d{1,3}) ?(?P<num_end>[.)、](?!\d))"
    r"|\((?P<pnum>\d{1,3})\)"
    r"|(?P<roman>i{1,3}|iv|vi{0,3}|ix|x|I{1,3}|IV|VI{0,3}|IX|X)(?P<roman_end>[.)])(?=\s)"
    r"|\((?P<proman>i{1,3}|iv|vi{0,3}|ix|x)\)"
    r"|(?P<alpha>[a-zA-Z])(?P<alpha_end>[.)])(?=\s|[A-Z])"
    r"|\((?P<palpha>[a-zA-Z])\))"
    r"\s*"
)
# A number after a bullet (``* 1. text``) is part of the same marker.
_SECOND_NUMBER = re.compile(r"(?:\d{1,3}[.)](?!\d)|[a-zA-Z][.)](?=\s|[A-Z]))\s*")

_PREFIX = (
    r"(?P<prefix>(?:(?!(?:no|not|none|any|all|the|does|do|meet|meets)\b)"
    r"(?:(?-i:[A-Z][\w/'-]*)|key|main|major|general|additional|other|specific|disease-specific|study|swab)\s+){0,4})"
)
_KIND_HEADING = re.compile(
    rf"{_PREFIX}(?P<kind>non[- ]?inclusion|inclusion\s*/\s*exclusion|inclusion|exclusion)"
    r"(?:\s+criteri(?:a|on))?"
    r"(?P<rest>\s*\([^)]*\)|\s+(?:for|by|in|of|stage|part|cohort|comments)\b[^:.;]*|\s*[-–]\s.*[:]|\s+\d+)?"
    r"\s*(?::\s*(?P<after>.*))?",
    re.IGNORECASE,
)
_TRAILING_KIND = re.compile(r"eligibility criteria\b.*\b(?P<kind>inclusion|exclusion) criteria:?", re.IGNORECASE)
# A group's own heading: "Dementia with Lewy bodies exclusion criteria", "Alzheimer's dementia exclusion criteria"
# (a name starting with a capital, then the kind and "criteria"; no verb: "Subjects who meet the inclusion
# criteria" is a criterion)
_GROUP_KIND = re.compile(
    r"(?-i:[A-Z])[\w/'-]*(?:\s+(?!(?:no|not|none|any|all|the|does|do|did|meet|meets|met|meeting|fulfil\w*|satisf\w*|"
    r"has|have|had|is|are|was|were|be|been|who|which|that|if|above|below|following|listed|these|those|see|per|"
    r"according|other|study|protocol)\b)[\w/'-]+){0,5}\s+(?P<kind>inclusion|exclusion)\s+criteria\s*:?",
    re.IGNORECASE,
)
_GENERAL_HEADING = re.compile(r"(?:[A-Z][\w-]*\s+){0,3}eligibility(?:\s+criteria)?\s*:?", re.IGNORECASE)
_NOTE = re.compile(
    r"(?:notes?\b|n\.\s?b\.|nb:|please note\b|the information listed above|for more information\b)", re.IGNORECASE
)
_LEAD_IN = re.compile(r"\bfollowing\b|\bmust (?:meet|fulfil|fulfill|have)\b|\beligible\b|\bexcluded\b", re.IGNORECASE)
# Withdrawal criteria and the like: a third kind of section, neither inclusion nor exclusion.
_OTHER_HEADING = re.compile(
    r"[-*•]?\s*(?:[\w-]+\s+){0,3}(?:withdrawal|discontinuation|elimination|removal|exit|drop-?out|stopping)"
    r"\s+criteri(?:a|on)\b[^.;]*",
    re.IGNORECASE,
)
_INLINE_HEADING = re.compile(r"\s(?:Inclusion|Exclusion) [Cc]riteria:")
_MARKER_START = frozenset("•●▪◦‣■□➢►✓·*+–o-(0123456789ivxIVX")
_LONE_MARKERS = "-*•+o"  # (one character each: a row is tested with ``len(row) == 1 and row in``)
_SPACES = re.compile(r"\s+")
# The usual block, read whole by the fast path: headings exactly like these, one per line.
# (A literal first: the regex engine then jumps from line start to line start.)
_USUAL_HEADING = re.compile(
    r"\n(Inclusion|Exclusion|INCLUSION|EXCLUSION) (?:Criteria|criteria|CRITERIA):?[^\S\n]*(?=\n|$)"
)
_NUMBER = re.compile(r"(\d{1,3})([.)]) +(?=\S)")
# The numbered marker of _MARKER alone: a line starting with a digit can match no other alternative.
_NUMBER_MARKER = re.compile(r"(\d{1,3}) ?([.)、](?!\d))\s*")
# Whole-section tests for the usual sections, whose text starts with "\n": a row ending with ':'; a numbered row
# and a row starting with a bullet or a digit (from its "\n": the literal lets the engine jump from row to row;
# [^\S\n] is what strip() removes on the left).
_COLON_END = re.compile(r":\s*$", re.M)
_NUMBERED_ROW = re.compile(r"\n([^\S\n]*)(\d{1,3})([.)]) +(?=\S)([^\n]*)")
# A row of _indented_list: its indentation, then a bullet and a space or a number as _NUMBER_MARKER reads it
# (if any), then the rest of the row. [^\S\n] is what strip() removes, within a row.
_LIST_START = frozenset("*•-0123456789")
_LIST_ROW = re.compile(r"\n([^\S\n]*)(?:([*•-]) [^\S\n]*|([0-9]\d{0,2}) ?([.)、])(?!\d)[^\S\n]*)?([^\n]*)")
_INDENT_AND_END = itemgetter(0, 2)
_NUMERAL = itemgetter(1)
_ROW_TEXT = itemgetter(3)
_COUNTING = [str(number) for number in range(1001)]  # a list numbered in order: its numerals are a slice of these
# A row that starts with a space or a tab (one regex search costs less than two substring searches).
_INDENTED_ROW = re.compile(r"\n[ \t]")
_MEASURE = re.compile(r"[^\s:<>≤≥=]+(?:\s+[^\s:<>≤≥=]+){0,2}\s*[<>≤≥=]")


class _Line(NamedTuple):
    indent: int
    family: str | None  # marker kind: "*", "-", "1.", "(1)", "a.", "i." ...; None without a marker
    ordinal: int  # the marker's number (1 for "1.", "a.", "i."), 0 for bullets
    text: str
    blank_before: bool


_new = partial(tuple.__new__, _Line)  # no Python-level constructor call per line


def _kind_heading(text: str) -> tuple[str, str] | None:
    """``("inclusion" | "exclusion" | "both", text after the colon)`` for a kind heading, else None."""
    if "lusion" not in text and "LUSION" not in text:
        return None
    if text[0] in "[【" and text[-1] in "]】":
        text = text[1:-1].strip()  # "[Inclusion Criteria]"
    found = _KIND_HEADING.fullmatch(text)
    if found is None:
        found = _TRAILING_KIND.fullmatch(text) or _GROUP_KIND.fullmatch(text)
        if found is None:
            return None
        return found["kind"].lower(), ""
    if found["after"] and found["prefix"]:
        return None  # "Adults Exclusion Criteria: none" is a line with a heading inside, not a heading
    kind = found["kind"].lower()
    kind = "both" if "/" in kind else kind if kind in ("inclusion", "exclusion") else "non-inclusion"
    return kind, (found["after"] or "").strip() if "after" in found.groupdict() else ""


def _parse(raw: str, stripped: str, blank_before: bool) -> _Line:
    indent = raw.find(stripped[0]) if raw[0] in " \t" else 0  # (the leading whitespace, without a copy)
    # Most lines start with a word: only a line whose first characters could be a marker meets the regex.
    if stripped[0] not in _MARKER_START and (len(stripped) < 2 or stripped[1] not in ".)"):
        return _new((indent, None, 0, stripped, blank_before))
    first = stripped[0]
    if first in "*-•" and stripped[1:2] == " ":  # the usual bullet, read without the regex
        text = stripped[2:].lstrip()
        if (text[1:2] in ".)" or text[:1].isdigit()) and (second := _SECOND_NUMBER.match(text)):
            text = text[second.end() :]
        return _new((indent, first, 0, text, blank_before))
    if first.isdigit() and first <= "9":  # the usual numbered item, read with a short regex
        m = _NUMBER_MARKER.match(stripped)
        if m is None:
            return _new((indent, None, 0, stripped, blank_before))
        return _new((indent, "1" + m[2], int(m[1]), stripped[m.end() :], blank_before))
    m = _MARKER.match(stripped)
    if m is None:
        return _new((indent, None, 0, stripped, blank_before))
    text = stripped[m.end() :]
    kind = m.lastgroup
    if kind == "bullet":
        family, ordinal = m["bullet"], 0
        second = _SECOND_NUMBER.match(text)
        if second:
            text = text[second.end() :]
    elif kind == "num_end":
        family, ordinal = "1" + m["num_end"], int(m["num"])
    elif kind == "pnum":
        family, ordinal = "(1)", int(m["pnum"])
    elif kind == "roman_end":
        numeral = m["roman"]
        family, ordinal = ("I" if numeral.isupper() else "i") + m["roman_end"], _ROMAN[numeral.lower()]
    elif kind == "proman":
        family, ordinal = "(i)", _ROMAN[m["proman"]]
    elif kind == "alpha_end":
        letter = m["alpha"]
        family, ordinal = ("A" if letter.isupper() else "a") + m["alpha_end"], ord(letter.lower()) - 96
    else:
        family, ordinal = "(a)", ord(m["palpha"].lower()) - 96
    return _new((indent, family, ordinal, text, blank_before))


def _fix_roman(line: _Line, families: dict[str, int]) -> _Line:
    """``i.`` after ``h.`` is a letter; ``i.`` elsewhere (and ``v.``, ``x.``) a roman numeral."""
    family = line.family
    if family is not None and family[0] in "iI" and line.ordinal in (1, 5, 10) and len(family) == 2:
        letter_family = ("a" if family[0] == "i" else "A") + family[1]
        letter = {1: 9, 5: 22, 10: 24}[line.ordinal]
        if families.get(letter_family) == letter - 1:
            return line._replace(family=letter_family, ordinal=letter)
    elif family == "(i)" and line.ordinal in (1, 5, 10) and families.get("(a)") == {1: 8, 5: 21, 10: 23}[line.ordinal]:
        return line._replace(family="(a)", ordinal={1: 9, 5: 22, 10: 24}[line.ordinal])
    return line


def _short_title(text: str) -> bool:
    """A short line in title case without closing punctuation: a group's name, not a criterion."""
    words = text.split()
    return len(words) <= 5 and text[-1] not in ".;,)" and all(w[0].isupper() or w[0].isdigit() for w in words)


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip() if "  " in text or "\t" in text else text.strip()


def _is_heading_like(line: _Line, next_line: _Line | None) -> bool:
    """An unmarked line after a blank line that heads the items below it instead of being one."""
    text = line.text
    if next_line is None:
        return False
    if text.endswith(":"):
        return len(text.split()) <= 6 or _LEAD_IN.search(text) is not None
    if text.isupper() and sum(c.isalpha() for c in text) >= 3:
        return True
    return next_line.family is not None and len(text.split()) <= 5 and text[-1] not in ".;,)"


class _Section:
    """Items of one kind, built line by line: each item a list of ``[depth, text]`` lines."""

    def __init__(self) -> None:
        self.items: list[list[list]] = []
        self.levels: list[list] = []  # [families, indent, ordinal] from the outermost list inwards
        self.open_sub = False  # the last line is an unmarked sub-item under an item ending with ':'
        self.owner = False  # the last item ends with ':' and owns the lab-value-like items of its marker after it
        self.marker_indent = -1  # the indentation of the last list marker
        self.problem: str | None = None
        self.groups = False  # the section has several sentences ending with ':', each over an indented list

    def heading(self) -> None:
        self.levels = []
        self.open_sub = False

    def add(self, depth: int, text: str) -> None:
        if depth == 0 or not self.items:
            self.items.append([[0, text]])
        else:
            self.items[-1].append([depth, text])

    def restarts(self, text: str) -> None:
        """The outermost list starts again at 1 with no heading between: which part is which is unclear."""
        if not self.last_text().endswith(":"):
            self.problem = f"the numbering of the list starts again at {text[:40]!r}"

    def last_text(self) -> str:
        return self.items[-1][-1][1] if self.items else ""

    def marked(self, line: _Line, by_indent: bool) -> None:
        levels = self.levels
        indent, family, ordinal, text, _ = line
        self.open_sub = False
        self.marker_indent = indent
        if levels and not by_indent:
            top = levels[-1]
            if family in top[0] and (not ordinal or top[2] + 1 == ordinal):
                top[2] = ordinal  # the common case: the next item of the innermost list
                if self.owner and _owned(text):
                    self.add(len(levels), text)  # "Adequate liver function:" then "* ALT < 2.5 x ULN"
                    return
                self.owner = not ordinal and text[-1] == ":"
                self.add(len(levels) - 1, text)
                return
        self.owner = False
        if not levels:
            levels.append([{family}, indent, ordinal])
            self.owner = not ordinal and not by_indent and text[-1] == ":"
            self.add(0, text)
            return
        if by_indent:
            depth = len(levels) - 1
            top = levels[depth]
            if -1 <= top[1] - indent <= 1:  # the common case: the next item at the innermost indentation
                if depth == 0 and ordinal == 1 and family in top[0] and top[2] > 1:
                    self.restarts(text)
                top[2] = ordinal
                top[0].add(family)
                self.add(depth, text)
                return
        depth = None
        if by_indent:
            for i in range(len(levels) - 1, -1, -1):
                if abs(levels[i][1] - indent) <= 1:
                    depth = i
                    break
                if levels[i][1] < indent:
                    depth = i + 1
                    break
            if depth is None:
                depth = 0
        else:
            same = [i for i, level in enumerate(levels) if family in level[0]]
            if same:
                following = [i for i in same if levels[i][2] + 1 == ordinal or not ordinal]
                depth = following[-1] if following else same[-1]
                restart = ordinal == 1 and levels[depth][2] >= 1 and self.last_text().endswith(":")
                if restart and depth == len(levels) - 1:
                    depth += 1
            elif self.last_text().endswith(":") or ordinal == 1:
                depth = len(levels)
            else:
                # A marker of another kind without a reason to nest: a sibling of the previous line.
                depth = len(levels) - 1
                del levels[depth + 1 :]
                self.add(depth, text)
                return
        if depth == 0 and ordinal == 1 and family in levels[0][0] and levels[0][2] > 1:
            self.restarts(text)
        del levels[depth + 1 :]
        if depth == len(levels):
            levels.append([{family}, indent, ordinal])
        else:
            levels[depth][2] = ordinal
            levels[depth][0].add(family)
        self.add(depth, text)

    def unmarked(self, line: _Line, next_line: _Line | None) -> None:
        text = line.text
        if self.items and not line.blank_before:
            last = self.items[-1][-1]
            if last[1].endswith(":") or self.open_sub:
                depth = last[0] + 1 if not self.open_sub else last[0]
                self.items[-1].append([depth, text])
                self.open_sub = True
            else:
                last[1] = f"{last[1]} {text}"
            return
        if self.items and self.last_text().endswith(":") and not text.endswith(":"):
            last = self.items[-1][-1]
            self.items[-1].append([last[0] + 1, text])
            self.open_sub = True
            return
        last = self.items[-1][-1] if self.items else None
        if last is not None and 0 <= self.marker_indent < line.indent:
            # A paragraph indented under the item above: a wrapped line joins it; a new paragraph under an
            # item of the outermost list is its sub-line; under a sub-item it joins that sub-item.
            if last[0] == 0 and last[1][-1] in ".;!?" and text[0].isupper():
                self.items[-1].append([1, text])
            else:
                last[1] = f"{last[1]} {text}"
            self.open_sub = False
            return
        if (
            self.groups
            and text[-1] == ":"
            and next_line is not None
            and next_line.family is not None
            and next_line.indent > line.indent
            and text.count(" ") >= 6
        ):
            # A sentence ending with ':' whose list is indented under it owns that list (structure as published).
            self.levels = [[{None}, line.indent, 0]]
            self.open_sub = False
            self.add(0, text)
            return
        if _is_heading_like(line, next_line):
            self.heading()
            return
        # A paragraph of its own between the items: an item of the outermost list.
        del self.levels[1:]
        self.open_sub = False
        self.add(0, text)


def _groups(lines: list[_Line]) -> bool:
    """Two or more sentences ending with ':' each followed by a list indented under it: groups of criteria
    (often alternatives), each sentence an item owning its list. One such sentence is the section's lead-in."""
    count = 0
    for index in range(len(lines) - 1):
        line = lines[index]
        if line.family is None and line.text[-1] == ":" and line.text.count(" ") >= 6:
            following = lines[index + 1]
            if following.family is not None and following.indent > line.indent:
                count += 1
    return count > 1


def _owned(text: str) -> bool:
    """An item that reads as a value under the ':' item before it: lower-case, or a measure (``ALT < 2.5 x ULN``)."""
    return text[0].islower() or _MEASURE.match(text) is not None


def _plain(section: _Section, lines: list[_Line]) -> None:
    """A section without list markers: one item per line; a line ending with ':' keeps the lines
    below it, up to the next blank line, as its sub-items (unless it is the section's lead-in)."""
    owner = False
    for index, line in enumerate(lines):
        text = line.text
        if owner and not line.blank_before:
            section.items[-1].append([1, text])
            continue
        if owner and line.blank_before and len(section.items[-1]) == 1:
            section.items[-1].append([1, text])  # "Defined as:" + blank line + its first sub-item
            continue
        owner = False
        if text.endswith(":"):
            rest = lines[index + 1 :]
            if not rest:
                section.add(0, text)
                continue
            if not section.items and (_LEAD_IN.search(text) or not any(later.blank_before for later in rest[1:])):
                continue  # the section's lead-in: a heading
            if text.isupper() and sum(c.isalpha() for c in text) >= 3:
                continue
            owner = True
        section.add(0, text)


def _simple_list(lines: list[_Line]) -> list[str] | None:
    """The items of the usual section, one list of one marker kind, numbered in order, nothing nested and
    no item ending with ':' (read without building levels); None for any other section."""
    if not lines:
        return []
    first = lines[0]
    family, indent = first.family, first.indent
    if family is None or family[0] in "iI(":
        return None
    ordinal = first.ordinal
    texts = []
    for line in lines:
        text = line.text
        if line.family != family or line.indent != indent or text[-1] == ":" or line.ordinal != ordinal:
            return None
        if ordinal:
            ordinal += 1
        texts.append(_one_line(text) if "  " in text or "\t" in text else text)
    return texts


# A sub-item's start by its depth (1 to 4): one level deeper, two more spaces.
_SUB_PREFIX = ("", "- ", "  - ", "    - ", "      - ")


def _render(item: list[list]) -> str:
    parts = [_one_line(item[0][1])]
    for depth, text in item[1:]:
        parts.append(_SUB_PREFIX[depth if depth < 4 else 4] + _one_line(text))
    return "\n".join(parts)


def _section_items(lines: list[_Line]) -> list[str] | str:
    """The items of one section's lines, or (a str) the problem that keeps the block unsplit."""
    simple = _simple_list(lines)
    if simple is not None:
        return simple
    section = _Section()
    indents = {line.indent for line in lines if line.family}
    if indents:
        by_indent = len(indents) > 1
        marked = section.marked
        families: dict[str, int] = {}
        if None in {line.family for line in lines}:
            lines = [
                line for line in lines if line.family or line.text[0] not in "NnPpTtFf" or not _NOTE.match(line.text)
            ]
            section.groups = _groups(lines)
            for index, line in enumerate(lines):
                if line.family is None:
                    section.unmarked(line, lines[index + 1] if index + 1 < len(lines) else None)
                else:
                    if line.family[0] in "iI(":
                        line = _fix_roman(line, families)
                    families[line.family] = line.ordinal
                    marked(line, by_indent)
        else:  # every line a list item: no notes to drop, no groups
            for line in lines:
                family = line.family
                if family[0] in "iI(":
                    line = _fix_roman(line, families)
                    family = line.family
                families[family] = line.ordinal
                marked(line, by_indent)
    else:
        lines = [line for line in lines if line.text[0] not in "NnPpTtFf" or not _NOTE.match(line.text)]
        _plain(section, lines)
    if section.problem:
        return section.problem
    found = []
    for item in section.items:
        if len(item) == 1:
            text = item[0][1]
            found.append(_one_line(text) if "  " in text or "\t" in text else text)
        else:
            found.append(_render(item))
    return found


def _read_section(rows: list[str], strips: list[str], last: bool, kinds: bool, others: bool) -> list[_Line] | None:
    """The lines of a section found by the usual headings (``rows`` its lines, ``strips`` them stripped),
    parsed as the line-by-line reading parses them; None when a line is a heading of any kind or holds one
    (the block is then read line by line). ``kinds``, ``others``: whether the section holds "lusion" or
    "riteri" in either case (a line without them is no heading)."""
    lines = []
    blank = False
    headings = kinds or others
    for index in range(1, len(rows)):  # [0]: the rest of the heading's line
        stripped = strips[index]
        if not stripped or (len(stripped) == 1 and stripped in _LONE_MARKERS):
            blank = True
            continue
        raw = rows[index]
        first = stripped[0]
        if first not in _MARKER_START and (len(stripped) < 2 or stripped[1] not in ".)"):
            found = stripped
            line = _new((raw.find(first) if raw[0] in " \t" else 0, None, 0, found, blank))
        elif first in "*-•" and stripped[1:2] == " ":  # the usual bullet, as _parse reads it
            found = stripped[2:].lstrip()
            if (found[1:2] in ".)" or found[:1].isdigit()) and (second := _SECOND_NUMBER.match(found)):
                found = found[second.end() :]
            line = _new((raw.find(first) if raw[0] in " \t" else 0, first, 0, found, blank))
        elif "0" <= first <= "9" and (number := _NUMBER_MARKER.match(stripped)):  # the usual number, as _parse reads it
            found = stripped[number.end() :]
            line = _new((raw.find(first) if raw[0] in " \t" else 0, "1" + number[2], int(number[1]), found, blank))
        else:
            line = _parse(raw, stripped, blank)
            found = line[3]
        blank = False
        if not found:
            continue
        if headings and _opens_section(found, kinds, others):
            return None
        lines.append(line)
    if not last and lines:
        end = lines[-1]
        if end.family is None and end.blank_before and " " in end.text and _short_title(end.text):
            lines.pop()  # a group's name just above the next heading
    return lines


def _usual_section(
    text: str, rows: list[str], strips: list[str], last: bool, kinds: bool, others: bool
) -> list[str] | None:
    """The items of a section that is one flat list: every line a ``*``/``-``/``•`` bullet at one
    indentation, or numbered in order at one indentation, or every line an unmarked criterion; None for
    anything else (the line-by-line reading decides those). Nothing here may differ from that reading.
    Tests run on the whole section where they can (one search, count or findall instead of a loop per line)."""
    first = next(filter(None, strips), None)
    if first is None:
        return []
    if _COLON_END.search(text):
        return None  # an item that may own the lines below it, or a part heading
    rows_with_text = len(strips) - strips.count("")
    if first[1:2] == " " and first[0] in "*-•":
        raw = rows[strips.index(first)]
        prefix = raw[: len(raw) - len(first) + 2]
        if text.count("\n" + prefix) != rows_with_text:
            return None  # another marker or another indentation (rows[0] is always empty)
        texts = [line[2:].lstrip() for line in strips if line]  # every row with text is such a bullet (less it)
        for item in texts:
            if item[:1].isdigit() or item[1:2] in ".)":
                return None  # "* 1. text": a number after the bullet
    elif first[0].isdigit():
        numbers = _NUMBERED_ROW.findall(text)
        if len(numbers) != rows_with_text or len(set(map(_INDENT_AND_END, numbers))) > 1:
            return None  # a row of another kind, another indentation or another marker
        start = int(numbers[0][1])
        if list(map(_NUMERAL, numbers)) != _COUNTING[start : start + len(numbers)]:
            return None  # out of order (or written "01.": the line-by-line reading decides)
        texts = list(map(str.rstrip, map(_ROW_TEXT, numbers)))
    else:
        texts = [line for line in strips if line]
        if not last and " " in texts[-1] and _short_title(texts[-1]):
            return None  # maybe the name of the group whose heading follows
        for line in texts:
            if (line[0] in _MARKER_START or line[1:2] in ".)") and (
                (len(line) == 1 and line in _LONE_MARKERS) or _MARKER.match(line)
            ):
                return None
            if line[0] in "NnPpTtFf" and _NOTE.match(line):
                return None
    if kinds and any(_holds_heading(item) for item in texts):
        return None
    if others and any(("riteri" in item or "RITERI" in item) and _other_heading(item) for item in texts):
        return None  # (the line-by-line reading tests only the lines that hold "riteri" too)
    if "  " not in text and "\t" not in text:
        return texts  # (one search of the section instead of two of each item)
    return [_one_line(item) if "  " in item or "\t" in item else item for item in texts]


def _indented_list(text: str, strips: list[str], kinds: bool, others: bool) -> list[str] | str | None:
    """The items of a usual section whose every line is a ``*``/``-``/``•`` bullet or a number, nested by
    indentation (two or more), read as ``_read_section`` and ``_Section.marked`` read it but without building
    the lines first; None for any other section. Only the indentation decides nesting here: list markers of
    these kinds have no roman numerals to tell from letters and no unmarked line to place. One regular
    expression reads every row (its indentation, marker and text), and each line is rendered as it is read
    (an item: its lines, the first one its text, the others ``- text``)."""
    for stripped in strips:
        if stripped and stripped[0] not in _LIST_START:
            return None  # a row without such a marker (found before the rows are read)
    headings = kinds or others
    items: list[list[str]] = []
    levels: list[list] = []  # [indent, numeral ("0" for a bullet), families] from the outermost list inwards
    level: list = []  # the level of the line read last (levels[depth])
    depth = 0
    several = False  # more than one indentation
    problem = None
    last = ""  # the text of the line read last
    for space, bullet, numeral, end, found in _LIST_ROW.findall(text):
        if bullet:
            found = found.rstrip()
            if (found[1:2] in ".)" or found[:1].isdigit()) and (second := _SECOND_NUMBER.match(found)):
                found = found[second.end() :]
            family, ordinal = bullet, "0"
        elif numeral:
            found = found.rstrip()
            family, ordinal = end, numeral  # (the numeral read as a number only where it matters)
        elif found.strip():
            return None  # a row without such a marker
        else:
            continue  # a blank row
        if not found:
            continue
        if headings and _opens_section(found, kinds, others):
            return None
        indent = len(space) if space[:1] in " \t" else 0
        one = found if "  " not in found and "\t" not in found else _one_line(found)
        if not levels:
            level = [indent, ordinal, {family}]
            levels.append(level)
            items.append([one])
            outermost = indent
            last = found
            continue
        if indent != outermost:
            several = True
        if not -1 <= level[0] - indent <= 1:  # not the list of the line above: a deeper one, or one further out
            for depth in range(len(levels) - 1, -1, -1):
                if abs(levels[depth][0] - indent) <= 1:
                    break
                if levels[depth][0] < indent:
                    depth += 1
                    break
            else:
                depth = 0
            del levels[depth + 1 :]
            if depth == len(levels):
                levels.append([indent, "0", set()])
            level = levels[depth]
        if depth == 0 and family in level[2] and int(ordinal) == 1 and int(level[1]) > 1 and last[-1] != ":":
            problem = f"the numbering of the list starts again at {found[:40]!r}"
        level[1] = ordinal
        level[2].add(family)
        if depth == 0:
            items.append([one])
        else:
            items[-1].append(_SUB_PREFIX[depth if depth < 4 else 4] + one)
        last = found
    if not several:
        return None  # one indentation: the marker kinds and numbering decide, as _Section.marked reads them
    if problem:
        return problem
    return [item[0] if len(item) == 1 else "\n".join(item) for item in items]


def _opens_section(text: str, kinds: bool, others: bool) -> bool:
    """Whether a list line is really a heading (of a kind, when ``kinds``; of withdrawal criteria and the
    like, when ``others``): the fast readings then leave the section to the line-by-line one."""
    if kinds and _holds_heading(text):
        return True
    return others and ("riteri" in text or "RITERI" in text) and _other_heading(text)


def _holds_heading(text: str) -> bool:
    """A kind heading, or a line with one inside it (only a line with "riteria:" can hold one: that quick search
    spares most lines the regular expression)."""
    if "lusion" not in text and "LUSION" not in text:
        return False
    return _kind_heading(text) is not None or ("riteria:" in text and _INLINE_HEADING.search(text) is not None)


def _other_heading(text: str) -> bool:
    """A heading of withdrawal criteria and the like. Such a heading has no '.' or ';': the two quick searches
    spare most lines the regular expression (which costs much more)."""
    return "." not in text and ";" not in text and _OTHER_HEADING.fullmatch(text) is not None


def _usual(block: str) -> Criteria | None:
    """The usual block read whole (most of the registry): headings as above, each section a flat list."""
    parts = _USUAL_HEADING.split("\n" + block)
    if len(parts) < 3 or parts[0].strip() or "\r" in block:
        return None
    found: dict[str, list[str]] = {"inclusion": [], "exclusion": []}
    last = len(parts) - 1
    for index in range(1, last, 2):
        text = parts[index + 1]
        rows = text.split("\n")
        strips = list(map(str.strip, rows))
        kinds = "lusion" in text or "LUSION" in text
        others = "riteri" in text or "RITERI" in text
        items = _usual_section(text, rows, strips, index + 1 == last, kinds, others)
        if items is None and _INDENTED_ROW.search(text):  # (one indentation: not an indented list)
            items = _indented_list(text, strips, kinds, others)
            if isinstance(items, str):
                return Criteria([], [], items)
        if items is None:
            lines = _read_section(rows, strips, index + 1 == last, kinds, others)
            if lines is None:
                return None
            items = _section_items(lines)
            if isinstance(items, str):
                return Criteria([], [], items)
        found["inclusion" if parts[index] in ("Inclusion", "INCLUSION") else "exclusion"].extend(items)
    return Criteria(found["inclusion"], found["exclusion"], None)


def split(block: str) -> Criteria:
    """The block's inclusion and exclusion criteria, one item each, in order; ``problem`` says why
    both lists are empty when the block cannot be split with confidence."""
    usual = _usual(block)
    if usual is not None:
        return usual
    return _split_lines(block)


def _split_lines(block: str) -> Criteria:
    """The block read line by line."""
    kinds: list[str] = []
    sections: list[tuple[str, list[_Line]]] = []
    current: list[_Line] | None = None
    preamble = 0  # lines of text before the first heading; -1 once one of them is a list item
    non_inclusion = False
    marker_indent = -1  # the indentation of the section's last list marker
    blank = True
    for raw in block.split("\n"):
        stripped = raw.strip()
        if not stripped or (len(stripped) == 1 and stripped in _LONE_MARKERS):
            blank = True
            continue
        line = _parse(raw, stripped, blank)
        blank = False
        text = line.text
        if not text:
            continue  # an empty bullet
        if line.family is not None:
            marker_indent = line.indent
        heading = (
            _kind_heading(text)
            if ("lusion" in text or "LUSION" in text) and line.family in (None, "-", "*", "•")
            else None
        )
        if heading is not None:
            kind, after = heading
            if kind == "both":
                return Criteria([], [], f"a heading that names both kinds: {text!r}")
            if kind == "non-inclusion":
                kind = "exclusion"
                non_inclusion = True
            elif kind == "exclusion" and non_inclusion and text[0] in "Ee":
                return Criteria([], [], f"{text!r} after the non-inclusion criteria: they may be withdrawal criteria")
            elif kind == "inclusion" and "exclusion" in kinds and len(text.split()) > 6:
                return Criteria([], [], f"several eligibility sets: {text!r} after the exclusion criteria")
            if current and 0 <= marker_indent < line.indent:
                return Criteria([], [], f"a heading inside a list item: {text!r}")
            last = current[-1] if current else None
            if last and last.family is None and last.blank_before and " " in last.text and _short_title(last.text):
                current.pop()  # a group's name just above its heading ("Healthcare Worker Participants")
            kinds.append(kind)
            current = []
            marker_indent = -1
            sections.append((kind, current))
            if after and not after.endswith(":") and not _LEAD_IN.search(after):
                current.append(_parse(after, after, True))
            continue
        if heading is None and "lusion" in text and "riteria:" in text and _INLINE_HEADING.search(text):
            return Criteria([], [], f"a heading inside a line: {text!r}")
        if ("riteri" in text or "RITERI" in text) and line.family in (None, "-", "*", "•") and _other_heading(text):
            current = []  # withdrawal criteria and the like: not collected, they stay in the block
            continue
        if current is None:
            if _GENERAL_HEADING.fullmatch(text) or _NOTE.match(text):
                continue
            if line.family is None and (text.endswith(":") or _short_title(text)):
                continue
            preamble = preamble + 1 if preamble >= 0 and line.family is None else -1
            continue
        current.append(line)
    if not kinds:
        return Criteria([], [], "no inclusion or exclusion heading")
    if preamble and not (0 < preamble <= 3 and kinds[0] == "inclusion" and "exclusion" in kinds):
        # A short description before both headings is no criterion; anything else may be one.
        return Criteria([], [], "criteria text before the first inclusion or exclusion heading")
    result: dict[str, list[str]] = {"inclusion": [], "exclusion": []}
    for kind, lines in sections:
        items = _section_items(lines)
        if isinstance(items, str):
            return Criteria([], [], items)
        result[kind].extend(items)
    return Criteria(result["inclusion"], result["exclusion"], None)


def _compiled() -> Any:
    """This module compiled by setup.py, when it was built from this very text; None when it was not built
    (no C compiler), this file changed since (an edit runs as Python until the next install), or
    TRIALPORT_PURE_PYTHON=1 asks for Python (``benchmarks/criteria_split.py`` compares the two)."""
    if __name__ != "trialport.mapping.criteria" or os.environ.get("TRIALPORT_PURE_PYTHON") == "1":
        return None  # (or the compiled copy itself)
    try:
        from trialport.mapping import _criteria_compiled  # type: ignore[attr-defined]
    except ImportError:
        return None
    if hashlib.sha256(Path(__file__).read_bytes()).hexdigest() != _criteria_compiled.SOURCE_SHA256:
        return None
    return _criteria_compiled


python_split = split  # (the compiled split is checked against it)
_compiled_module = _compiled()
COMPILED = _compiled_module is not None
if _compiled_module is not None:
    split = _compiled_module.split
    Criteria = _compiled_module.Criteria  # type: ignore[misc]  # one result type, whichever split runs
