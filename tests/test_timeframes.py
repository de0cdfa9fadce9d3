"""Time frames: a golden file checked by hand, and the share parsed over every real outcome."""

from __future__ import annotations

import json

import pytest
from conftest import CTGOV, DATA, ROOT

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


def test_share_parsed_over_all_test_data_every_format():
    """Every reader's time frames (registry JSON, CSV, XML, the legacy CSV, the seeds): 95% parsed."""
    frames = [
        (trial.source.format, outcome.time_frame)
        for trial in pipeline.trials([CTGOV, DATA / "legacy-csv", ROOT / "seeds"])
        for outcome in trial.outcomes
        if outcome.time_frame
    ]
    formats = {fmt for fmt, _ in frames}
    parsed = sum(frame.kind != "unparsed" for _, frame in frames)
    print(f"\ntime frames parsed, all of tests/data: {parsed}/{len(frames)} = {parsed / len(frames):.4f}")
    assert formats >= {"ctgov-v2", "ctgov-csv", "ctgov-xml", "ctgov-classic", "seedtext"}
    assert len(frames) > 4300
    assert parsed >= 0.95 * len(frames)


def test_pharmacokinetic_schedule_of_days_with_hours_after_the_dose():
    # tests/data/ctgov/mrd-aml-csv/ctg-studies.csv, as written there
    frame = parse(
        "Pre dose, 1, 2, 4, 6, 24 and 72 hours post dose on Cycle 1 Day 1; and Pre dose, 2, 4, 6, 72, 192 and "
        "336 hours post dose on Cycle 1 Day 7"
    )
    assert (frame.kind, frame.value, frame.unit, frame.anchor) == ("schedule", [1, 7], "d", "cycle 1")
    first, seventh = frame.points
    assert (first.value, first.anchor, first.within.value, first.within.unit) == (
        1,
        "cycle 1",
        [0, 1, 2, 4, 6, 24, 72],
        "h",
    )
    assert seventh.within.value == [0, 2, 4, 6, 72, 192, 336] and seventh.within.anchor == "post dose"


def test_one_day_with_samples_is_a_timepoint_and_predose_is_zero_hours():
    frame = parse("Cycle 1, Day 1: predose and 0.5, 1, 2, 3, 4, 6, 8, 10, and 12 hours postdose")
    assert (frame.kind, frame.value, frame.unit, frame.anchor, frame.points) == ("timepoint", 1, "d", "cycle 1", [])
    assert frame.within.value == [0, 0.5, 1, 2, 3, 4, 6, 8, 10, 12] and frame.within.unit == "h"
    weeks = parse("Week 4: pre-dose; Week 8: pre-dose and Week 12: pre-dose")
    assert (weeks.value, weeks.unit) == ([4, 8, 12], "wk")
    assert [(p.within.value, p.within.anchor) for p in weeks.points] == [(0, "pre-dose")] * 3


def test_days_of_different_cycles_keep_their_cycle_and_value_is_none():
    frame = parse("Cycle 1 Day 8, Cycle 1 Day 15, Cycle 2 Day 1 and Cycle 2 Day 15")
    assert frame.kind == "schedule" and frame.value is None and frame.unit is None
    assert [(p.value, p.anchor) for p in frame.points] == [
        (8, "cycle 1"),
        (15, "cycle 1"),
        (1, "cycle 2"),
        (15, "cycle 2"),
    ]


def test_units_that_do_not_convert_exactly_stay_as_written():
    frame = parse("At day 100 and 1 year post-transplant")
    assert frame.value is None and [(p.value, p.unit, p.anchor) for p in frame.points] == [
        (100, "d", "post-transplant"),
        (1, "a", "post-transplant"),
    ]
    assert parse("6-months, 1, and 2-year post-HCT").value == [6, 12, 24]  # months and years do convert


def test_each_time_keeps_its_own_window():
    # tests/data/ctgov/aact-fixtures/legacy-xml/NCT03840122.xml
    frame = parse(
        "outcome measure will be taken 24 hours postoperatively, 48 hours postoperatively, 72 hours "
        "postoperatively, 2 weeks (± 4 days) postoperatively, and 6 weeks (± 2 weeks) postoperatively"
    )
    assert [(p.value, p.unit, p.tolerance) for p in frame.points] == [
        (24, "h", None),
        (48, "h", None),
        (72, "h", None),
        (2, "wk", "±4 d"),
        (6, "wk", "±2 wk"),
    ]
    assert {p.anchor for p in frame.points} == {"postoperatively"}


def test_cycles_of_a_known_length_become_days():
    assert parse("After two courses of chemotherapy (each course is 28 days)").value == 56
    assert parse("Cycles 1-6 (28 day treatment cycle)").value == [1, 168]
    assert parse("From Cycle 1 Day 1 to end of Cycle 2; Cycle =28 Days").value == [1, 56]
    assert parse("Up to 3 cycles of combination therapy (each cycle is a minimum of 29 days)").kind == "unparsed"


def test_events_ordinal_days_bracketed_ranges_and_consecutive_spans():
    assert (parse("On the day of delivery").kind, parse("On the day of delivery").anchor) == ("timepoint", "delivery")
    assert (parse("Second day").value, parse("Second day").unit) == (2, "d")
    assert parse("during the first year").kind == "unparsed"  # a span, not day 1 of year 1
    assert parse("From baseline (week 0) to end of treatment (week 68)").value == [0, 68]
    span = parse("3 months intervention + 1 month after the intervention")
    assert (span.kind, span.value, span.unit) == ("duration", 4, "mo")
    # a window beyond the one named: not read at all rather than read wrong
    assert parse("Up to the end of cycle 6 (28 days/cycle), or 168 days + 36 days post-treatment").kind == "unparsed"


def test_text_is_always_kept_and_units_are_ucum():
    for text in ("Up to 2 years", "nonsense", "", "Weeks 4, 16"):
        assert parse(text).text == text
    units = {parse(c["text"]).unit for c in GOLDEN} - {None}
    assert units <= {"min", "h", "d", "wk", "mo", "a"}
