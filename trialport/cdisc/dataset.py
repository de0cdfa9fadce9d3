"""TS rows as a dataset within XPORT v5's rules: ASCII only, one line, values of at most 200 bytes.

A longer TSVAL is split at word boundaries into TSVAL, TSVAL1, ..., TSVALn (SDTMIG 3.4, TS
assumption 8); the parts put back together with a space give the text again. Nothing is cut off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat
from typing import Any

from trialport.cdisc.ascii import transliterate
from trialport.cdisc.ts import VARIABLES

LIMIT = 200


@dataclass
class Change:
    """One value that XPT's rules changed: which row, and what was done."""

    study: str
    parameter: str
    seq: int
    what: str


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
            changes.append(Change(row["STUDYID"], row["TSPARMCD"], row["TSSEQ"], f"{name}: {pairs}"))
        row[name] = text
    return row


def joined(row: dict[str, Any]) -> str:
    """TSVAL with its continuation parts put back."""
    parts = [row["TSVAL"]]
    number = 1
    while row.get(f"TSVAL{number}"):
        parts.append(row[f"TSVAL{number}"])
        number += 1
    return " ".join(parts)
