"""The run report accounts for every record of a mixed run: registry records, seeds and hostile inputs together."""

from __future__ import annotations

import orjson
from conftest import CTGOV, DATA, SEEDS

from trialport.pipeline import convert, iter_files

INPUTS = [CTGOV, SEEDS, DATA / "bad"]


def test_every_record_of_every_file_is_accounted_for(tmp_path):
    report = convert(INPUTS, tmp_path, formats=["json"])
    written = orjson.loads((tmp_path / "report.json").read_bytes())
    files = {tally["path"]: tally for tally in written["files"]}
    assert set(files) == {str(path) for path in iter_files(INPUTS)}  # every input file has its tally
    for tally in files.values():
        assert tally["read"] == tally["converted"] + tally["skipped"] + tally["rejected"], tally
        assert tally["read"] >= 1, tally
    totals = written["totals"]
    assert totals == report.totals()
    assert totals["read"] == sum(t["read"] for t in files.values())
    assert totals["read"] == totals["converted"] + totals["skipped"] + totals["rejected"]
    assert len(written["problems"]) == totals["skipped"] + totals["rejected"]  # each one with its reason
    assert all(problem["reason"] for problem in written["problems"])
    lines = (tmp_path / "trials.jsonl").read_bytes().splitlines()
    assert len(lines) == totals["converted"] == written["exports"][0]["trials"]
    assert totals["rejected"] > 0 and totals["skipped"] > 0 and totals["converted"] > 600
