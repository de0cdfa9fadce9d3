"""TS rows as a dataset within XPORT v5's rules: ASCII only, one line, values of at most 200 bytes.

A longer TSVAL is split at word boundaries into TSVAL, TSVAL1, ..., TSVALn (SDTMIG 3.4, TS
assumption 8); the parts put back together with a space give the text again. Nothing is cut off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from trialport.cdisc.ascii import transliterate
from trialport.cdisc.ts import VARIABLES

LIMIT = 200
_SPACE = re.compile(r"\s+")


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


def dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The XPT-ready form of a study's TS rows (also what ts.csv holds, so both read back the same)."""
    changes: list[Change] = []
    ready = []
    extra = 0
    for row in rows:
        row = dict(row)
        for name, value in row.items():
            if not isinstance(value, str):
                continue
            flat = _SPACE.sub(" ", value).strip()
            text, replaced = transliterate(flat)
            if replaced:
                pairs = ", ".join(dict.fromkeys(f"{a!r}->{b!r}" for a, b in replaced))
                changes.append(Change(row["STUDYID"], row["TSPARMCD"], row["TSSEQ"], f"{name}: {pairs}"))
            row[name] = text
        parts = split(row["TSVAL"])
        if len(parts) > 1:
            changes.append(
                Change(row["STUDYID"], row["TSPARMCD"], row["TSSEQ"], f"TSVAL split into {len(parts)} parts")
            )
            row["TSVAL"] = parts[0]
            for number, part in enumerate(parts[1:], 1):
                row[f"TSVAL{number}"] = part
            extra = max(extra, len(parts) - 1)
        ready.append(row)
    columns = list(VARIABLES)
    overflow = [f"TSVAL{n}" for n in range(1, extra + 1)]
    columns[columns.index("TSVAL") + 1 : columns.index("TSVAL") + 1] = overflow
    labels = dict(VARIABLES) | {name: f"Parameter Value {name[5:]}" for name in overflow}
    for row in ready:
        for name in overflow:
            row.setdefault(name, "")
    return Dataset(columns, labels, [{c: row[c] for c in columns} for row in ready], changes)


def joined(row: dict[str, Any]) -> str:
    """TSVAL with its continuation parts put back."""
    parts = [row["TSVAL"]]
    number = 1
    while row.get(f"TSVAL{number}"):
        parts.append(row[f"TSVAL{number}"])
        number += 1
    return " ".join(parts)
