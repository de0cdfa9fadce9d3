"""Text repair: mojibake, markdown escapes, whitespace; and the flattened-outcome split."""

from __future__ import annotations

import pytest

from trialport.mapping.text import clean_block, clean_line, repair
from trialport.model import trial_id
from trialport.readers.flattened import split_outcome


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("(Cmax\u00ef\u00bc\u2030", "(Cmax\uff09"),  # full-width bracket, kept full-width
        ("day 30 (\u00c2\u00b12)", "day 30 (\u00b12)"),
        ("\u00e2\u2030\u00a5 18 years", "\u2265 18 years"),
        ("5 \u00c2\u00b5g", "5 \u00b5g"),
        ("Stage \u00e2\u2026\u00a0A2", "Stage \u2160A2"),  # U+2160's third byte reads as a no-break space
        ("na\u00c3\u00afve", "na\u00efve"),
        (r"CD19 \& CD22 \> 5 x10\^9/L \[a\]", "CD19 & CD22 > 5 x10^9/L [a]"),
        ("caf\u00e9 na\u00efve \uff08OS\uff09 \u2265", "caf\u00e9 na\u00efve \uff08OS\uff09 \u2265"),  # already right
    ],
)
def test_repair(broken, fixed):
    assert repair(broken) == fixed


def test_clean_line_and_block():
    assert clean_line("  a\n b\t\tc  ") == "a b c"
    assert clean_line("   ") is None
    assert clean_block("para one \r\nline two\r\n\r\n\r\n\r\npara two  ") == "para one\nline two\n\npara two"


def test_trial_id_ignores_case_spacing_and_punctuation():
    assert trial_id("nct01234567", "x") == "NCT01234567"
    assert trial_id(None, "CAR-T  for ALL") == trial_id(None, "car t for all.")
    assert trial_id(None, "CAR-T for ALL") != trial_id(None, "CAR-T for AML")


@pytest.mark.parametrize(
    ("text", "measure", "description", "time_frame"),
    [
        (
            "Quality of life, EORTC QLQ-C30 global health status, Annually, during 5 years",
            "Quality of life",
            "EORTC QLQ-C30 global health status",
            "Annually, during 5 years",
        ),
        (
            "Overall survival, From randomization until progression, or death, whichever came first",
            "Overall survival",
            None,
            "From randomization until progression, or death, whichever came first",
        ),
        (
            "PFS, Time from randomization to progression or death., "
            "From randomization until progression, or death, whichever came first",
            "PFS",
            "Time from randomization to progression or death.",
            "From randomization until progression, or death, whichever came first",
        ),
        ("Weight, Weeks 4, 16, 24, 36, 52", "Weight", None, "Weeks 4, 16, 24, 36, 52"),
        (
            "Adverse events, Graded by CTCAE v5.0, including serious, and non-serious events., Up to 2 years",
            "Adverse events",
            "Graded by CTCAE v5.0, including serious, and non-serious events.",
            "Up to 2 years",
        ),
        ("Overall response rate, 3 months", "Overall response rate", None, "3 months"),
    ],
)
def test_split_outcome_hard_cases(text, measure, description, time_frame):
    split = split_outcome(text)
    assert (split.measure, split.description, split.time_frame) == (measure, description, time_frame)
