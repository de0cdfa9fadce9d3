"""Time frames: a golden file checked by hand, and the share parsed over every real outcome."""

from __future__ import annotations

import json

import pytest
from conftest import CTGOV, DATA

from trialport import pipeline
from trialport.mapping.timeframes import parse
from trialport.model import Trial

GOLDEN = json.loads((DATA / "timeframes-golden.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: c["text"][:50])
def test_golden(case):
    assert parse(case["text"]).model_dump() == case


def test_golden_is_large_and_varied():
    kinds = {c["kind"] for c in GOLDEN}
    assert len(GOLDEN) >= 100 and kinds == {"duration", "timepoint", "schedule", "unparsed"}


def test_share_parsed_over_every_real_outcome():
    texts = [
        outcome.time_frame.text
        for record in pipeline.read([CTGOV])
        if isinstance(record.result, Trial)
        for outcome in record.result.outcomes
        if outcome.time_frame
    ]
    parsed = sum(parse(text).kind != "unparsed" for text in texts)
    print(f"\ntime frames parsed: {parsed}/{len(texts)} = {parsed / len(texts):.3f}")
    assert len(texts) > 4000
    assert parsed / len(texts) >= 0.90


def test_text_is_always_kept_and_units_are_ucum():
    for text in ("Up to 2 years", "nonsense", "", "Weeks 4, 16"):
        assert parse(text).text == text
    units = {parse(c["text"]).unit for c in GOLDEN} - {None}
    assert units <= {"min", "h", "d", "wk", "mo", "a"}
