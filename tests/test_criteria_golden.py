"""The eligibility-criteria splitter against hand-checked items of real records (tests/data/criteria-golden.json;
how the file was made: criteria-golden.md)."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest
from conftest import DATA

from trialport import pipeline

GOLDEN = json.loads((DATA / "criteria-golden.json").read_text(encoding="utf-8"))
FORMATS = {"ctgov-v2", "ctgov-classic", "ctgov-xml"}
_MARKER = re.compile(r"^(?:[-*•]|\(?\d{1,2}\s?[.)]|\(?[a-zA-Z][.)]|\(?[ivx]+[.)])\s*", re.MULTILINE)


def _ids(entry: dict) -> str:
    return f"{entry['record']}@{entry['file']}"


@cache
def _trials(file: str) -> dict:
    return {t.source.record: t for t in pipeline.trials([DATA / file]) if hasattr(t, "eligibility")}


def _criteria(entry: dict) -> str:
    trial = _trials(entry["file"]).get(entry["record"])
    assert trial is not None, f"{entry['file']}: record {entry['record']} not read"
    assert trial.source.format == entry["format"], f"{entry['record']}: format {trial.source.format}"
    return trial.eligibility.criteria or ""


def _flat(text: str) -> str:
    """Text without list markers and with all whitespace as single spaces: how an item sits in its block."""
    return " ".join(_MARKER.sub("", line.strip()) for line in text.split("\n")).replace("  ", " ").strip()


def _first_difference(kind: str, got: list[str], want: list[str]) -> str:
    for n, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            return f"{kind}[{n}]: expected {w!r}, got {g!r}"
    if len(got) != len(want):
        n = min(len(got), len(want))
        extra = want[n] if len(want) > n else got[n]
        return f"{kind}: expected {len(want)} items, got {len(got)} (first unmatched: {extra!r})"
    return ""


def test_golden_file_is_sane() -> None:
    assert len(GOLDEN) >= 60
    assert {e["format"] for e in GOLDEN} == FORMATS
    counts = {f: sum(e["format"] == f for e in GOLDEN) for f in FORMATS}
    assert counts["ctgov-v2"] >= 25 and counts["ctgov-classic"] >= 12 and counts["ctgov-xml"] >= 12, counts
    assert len({_ids(e) for e in GOLDEN}) == len(GOLDEN)
    assert any(e["unsplit"] for e in GOLDEN) and any(e["inclusion"] and not e["exclusion"] for e in GOLDEN)


@pytest.mark.parametrize("entry", GOLDEN, ids=_ids)
def test_golden_items_are_in_the_block(entry: dict) -> None:
    """Every expected item is text of its record's block: nothing invented, nothing from another record."""
    block = _flat(_criteria(entry))
    if entry["unsplit"]:
        assert entry["inclusion"] == entry["exclusion"] == [] and entry.get("note")
    for kind in ("inclusion", "exclusion"):
        for n, item in enumerate(entry[kind]):
            assert item and item == item.strip(), f"{entry['record']} {kind}[{n}]: blank or padded"
            for part in item.split("\n"):
                text = _flat(part)
                assert text and text in block, f"{entry['record']} {kind}[{n}]: {part!r} not in the block"


@pytest.mark.parametrize("entry", GOLDEN, ids=_ids)
def test_splitter_matches_golden(entry: dict) -> None:
    from trialport.mapping.criteria import split

    got = split(_criteria(entry))
    where = f"{entry['record']} ({entry['file']})"
    if entry["unsplit"]:
        assert got.problem, f"{where}: expected unsplit with a problem, got none"
        assert got.inclusion == [] and got.exclusion == [], f"{where}: expected unsplit, got items"
        return
    for kind in ("inclusion", "exclusion"):
        difference = _first_difference(kind, getattr(got, kind), entry[kind])
        assert not difference, f"{where}: {difference}"
