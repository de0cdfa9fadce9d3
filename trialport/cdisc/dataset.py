"""TS and TI rows as datasets within XPORT v5's rules: ASCII only, one line, values of at most 200 bytes.

A longer TSVAL is split at word boundaries into TSVAL, TSVAL1, ..., TSVALn (SDTMIG 3.4, TS
assumption 4); the parts put back together with a space give the text again. Nothing is cut off.
TI has no continuation variables: a criterion longer than 200 bytes goes into IETEST cut at a word
boundary and marked with ``CUT_MARK`` (TI assumption 5: meaningful text in IETEST, the full text in
the study metadata); its whole text stays in ti_all.csv and in define.xml, and the cut is a listed change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat
from typing import Any

from trialport.cdisc import ti
from trialport.cdisc.ascii import transliterate
from trialport.cdisc.ts import VARIABLES

LIMIT = 200
CUT_MARK = " [...]"


@dataclass
class Change:
    """One value that XPT's rules changed: which row (TS: TSPARMCD and TSSEQ; TI: IETESTCD, seq None),
    and what was done."""

    study: str
    parameter: str
    seq: int | None
    what: str
    domain: str = "TS"


@dataclass
class Dataset:
    columns: list[str]
    labels: dict[str, str]
    rows: list[dict[str, Any]]
    changes: list[Change] = field(default_factory=list)

    @cached_property
    def by_column(self) -> list[tuple[Any, ...]]:
        """Each column's values, in ``columns`` order (every row holds its values in that order)."""
        if not self.rows:
            return [() for _ in self.columns]
        return list(zip(*map(dict.values, self.rows), strict=True))


def split(text: str, limit: int = LIMIT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, broken at spaces where there are any."""
    parts = []
    while len(text) > limit:
        cut = text.rfind(" ", 1, limit + 1)
        if cut <= 0:
            parts.append(text[:limit])
            text = text[limit:]
        else:
            parts.append(text[:cut])
            text = text[cut + 1 :]
    return [*parts, text]


def _clean(text: str) -> bool:
    """True when ``text`` is one line of ASCII without doubled spaces, nor a space next to a ``|`` or at an end.
    Run on values joined with ``|``, it says in one pass that none of them needs changing."""
    return (
        text.isascii()
        and text.isprintable()
        and "  " not in text
        and " |" not in text
        and "| " not in text
        and text[:1] != " "
        and text[-1:] != " "
    )


def dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The XPT-ready form of a study's TS rows (also what ts.csv holds, so both read back the same)."""
    changes: list[Change] = []
    ready = []
    extra = 0
    every_row_clean = _clean("|".join(map(str, chain.from_iterable(map(dict.values, rows)))))
    for row in rows:
        if not every_row_clean and not _clean("|".join(map(str, row.values()))):
            row = _flattened(row, changes)
        if len(row["TSVAL"]) > LIMIT:
            row = dict(row)
            parts = split(row["TSVAL"])
            changes.append(
                Change(row["STUDYID"], row["TSPARMCD"], row["TSSEQ"], f"TSVAL split into {len(parts)} parts")
            )
            row["TSVAL"] = parts[0]
            for number, part in enumerate(parts[1:], 1):
                row[f"TSVAL{number}"] = part
            extra = max(extra, len(parts) - 1)
        ready.append(row)
    columns = list(VARIABLES)
    if not extra and all(list(row) == columns for row in ready):
        return Dataset(columns, dict(VARIABLES), ready, changes)
    overflow = [f"TSVAL{n}" for n in range(1, extra + 1)]
    columns[columns.index("TSVAL") + 1 : columns.index("TSVAL") + 1] = overflow
    labels = dict(VARIABLES) | {name: f"Parameter Value {name[5:]}" for name in overflow}
    return Dataset(
        columns, labels, [dict(zip(columns, map(row.get, columns, repeat("")), strict=True)) for row in ready], changes
    )


def _flattened(row: dict[str, Any], changes: list[Change]) -> dict[str, Any]:
    """A copy of ``row`` with each text value on one line, in ASCII; what transliteration changed goes to
    ``changes``."""
    row = dict(row)
    for name, value in row.items():
        if value.__class__ is not str:
            continue
        text, replaced = transliterate(" ".join(value.split()))
        if replaced:
            pairs = ", ".join(dict.fromkeys(f"{a!r}->{b!r}" for a, b in replaced))
            if row["DOMAIN"] == "TI":
                changes.append(Change(row["STUDYID"], row["IETESTCD"], None, f"{name}: {pairs}", "TI"))
            else:
                changes.append(Change(row["STUDYID"], row["TSPARMCD"], row["TSSEQ"], f"{name}: {pairs}"))
        row[name] = text
    return row


def cut(text: str, limit: int = LIMIT) -> str:
    """The start of ``text`` that fits ``limit`` characters with ``CUT_MARK`` after it, broken at a space
    where there is one."""
    room = limit - len(CUT_MARK)
    end = text.rfind(" ", 1, room + 1)
    return text[: end if end > 0 else room].rstrip() + CUT_MARK


def ti_dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The XPT-ready form of a study's TI rows (also what ti.csv holds): one line of ASCII each, IETEST cut
    and marked where it passes 200 bytes. Rows XPT's rules leave alone are the very same objects."""
    changes: list[Change] = []
    ready = []
    for row in rows:
        if not _clean("|".join(row.values())):
            row = _flattened(row, changes)
        if len(row["IETEST"]) > LIMIT:
            full = len(row["IETEST"])
            row = dict(row, IETEST=cut(row["IETEST"]))
            changes.append(
                Change(
                    row["STUDYID"],
                    row["IETESTCD"],
                    None,
                    f"IETEST cut to {len(row['IETEST'])} of {full} characters (whole in ti_all.csv and define.xml)",
                    "TI",
                )
            )
        ready.append(row)
    return Dataset(list(ti.VARIABLES), dict(ti.VARIABLES), ready, changes)


def joined(row: dict[str, Any]) -> str:
    """TSVAL with its continuation parts put back."""
    parts = [row["TSVAL"]]
    number = 1
    while row.get(f"TSVAL{number}"):
        parts.append(row[f"TSVAL{number}"])
        number += 1
    return " ".join(parts)
