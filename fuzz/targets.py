"""The readers' parse-on-bytes entry points the fuzzers drive, and the check every result must pass.

A reader may refuse any input, but only by returning Rejections: an exception, or a result that is
neither a Trial nor a Rejection with a reason, is a crash. tests/test_bad_input.py runs every input
kept in tests/data/bad/fuzz/<target>/ through the same functions.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from trialport.model import Trial
from trialport.readers import ctgov_csv, seedtext
from trialport.readers.base import ReadResult, Rejection


def parse_seedtext(data: bytes) -> list[ReadResult]:
    return [seedtext.parse(data, "fuzz.txt")]


def parse_ctgov_csv(data: bytes) -> list[ReadResult]:
    text = data.decode("utf-8-sig", errors="replace")
    return list(ctgov_csv.parse(io.StringIO(text, newline=""), "fuzz.csv"))


PARSERS: dict[str, Callable[[bytes], list[ReadResult]]] = {
    "seedtext": parse_seedtext,
    "ctgov_csv": parse_ctgov_csv,
}


def check(results: list[ReadResult]) -> None:
    """Raise when a reader answered with something other than Trials and reasoned Rejections."""
    for result in results:
        if isinstance(result, Rejection):
            if not result.reason or result.path is None:
                raise AssertionError(f"a Rejection without a reason: {result!r}")
        elif not isinstance(result, Trial):
            raise AssertionError(f"neither a Trial nor a Rejection: {result!r}")
