"""``trialport fetch`` against a real HTTP stand-in for the ClinicalTrials.gov API v2 (tests/ctgov_api_server.py)
serving the real records of tests/data/ctgov: paging, faults, resume, query parameters, rate limit, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV
from ctgov_api_server import CtgovApiServer
from typer.testing import CliRunner

from trialport import pipeline
from trialport.cli import app
from trialport.ctgov_api import ApiClient, ApiError, TokenBucket
from trialport.fetch import FetchError, Query, fetch, partial_path, resume_path

NSCLC = CTGOV / "nsclc-v2-json" / "ctg-studies.json"
AACT = sorted((CTGOV / "aact-fixtures" / "v2-json").glob("*.json"))
NEWEST = "2025-12-05T00:00:00"  # NCT04318938's lastUpdatePostDate, the newest in the records (checked by hand)
runner = CliRunner()


def raw_ids() -> list[str]:
    """The NCT numbers of the records, read straight from the files (the NSCLC array's order, then the AACT files)."""
    studies = json.loads(NSCLC.read_text(encoding="utf-8")) + [json.loads(p.read_text(encoding="utf-8")) for p in AACT]
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]


def line_ids(path: Path) -> list[str]:
    return [orjson.loads(line)["protocolSection"]["identificationModule"]["nctId"] for line in path.open("rb")]


def client(api: CtgovApiServer, **options) -> ApiClient:
    """A client for the stand-in: no real rate limit, short backoff, a short timeout."""
    return ApiClient(api.url, **{"per_minute": 60_000, "backoff": 0.01, "retries": 3, "timeout": 2.0, **options})


def test_the_records_served() -> None:
    ids = raw_ids()
    assert len(ids) == 108 == len(set(ids))
    assert ids[0] == "NCT06576635" and ids[99] == "NCT04007835" and ids[100:] == [p.stem for p in AACT]


@pytest.mark.parametrize(
    ("fault", "times"), [(None, 0), ("429", 2), ("503", 3), ("drop", 1), ("reset", 2), ("slow", 1)]
)
def test_every_study_exactly_once_under_each_fault(tmp_path: Path, fault: str | None, times: int) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        if fault:  # the second page fails ``times`` times in a row (3 retries allowed)
            api.inject(fault, range(2, 2 + times), retry_after=0.3, delay=1.5)
        report = fetch(out, page_size=25, client=client(api, timeout=0.5))
        ids = line_ids(out)
        assert ids == raw_ids() == api.ids()
        assert (report.studies, report.pages, report.total_count, report.retries) == (108, 5, 108, times)
        assert out.read_bytes().endswith(b"\n") and out.read_bytes().count(b"\n") == 108
        assert not partial_path(out).exists() and not resume_path(out).exists()
        pages = api.seen()
        assert len(pages) == 5 + times
        if fault == "429":  # Retry-After (0.3 s) honoured, though the backoff is 0.01 s
            assert pages[2].at - pages[1].at >= 0.29 and pages[3].at - pages[2].at >= 0.29


def test_each_line_is_the_study_the_api_sent(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        fetch(out, page_size=40, client=client(api))
    lines = out.read_bytes().splitlines()
    originals = json.loads(NSCLC.read_text(encoding="utf-8"))
    assert orjson.loads(lines[0]) == originals[0] and orjson.loads(lines[99]) == originals[99]
    assert orjson.loads(lines[107]) == json.loads(AACT[-1].read_text(encoding="utf-8"))
    assert lines[0].startswith(b'{"protocolSection":{"identificationModule":{"nctId":"NCT06576635"')


def test_interrupted_fetch_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    whole, out = tmp_path / "whole.jsonl", tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        fetch(whole, page_size=20, client=client(api))
        done = api.studies_requests
        api.inject("503", range(done + 3, done + 10))  # page 3 fails past the retry budget
        with pytest.raises(FetchError, match=r"GET studies: HTTP 503 after 3 attempts; 40 studies kept"):
            fetch(out, page_size=20, client=client(api, retries=2))
        assert not out.exists()
        state = json.loads(resume_path(out).read_text())
        assert state["lines"] == 40 and state["totalCount"] == 108 and state["dataTimestamp"] == NEWEST
        assert partial_path(out).read_bytes() == b"".join(whole.read_bytes().splitlines(keepends=True)[:40])
        # a crash after a page reached the disk but before the resume file recorded it: one page and a half line
        lines = whole.read_bytes().splitlines(keepends=True)
        with partial_path(out).open("ab") as handle:
            handle.write(b"".join(lines[40:60]) + lines[60][:500])
        api.clear_faults()
        before = len(api.seen())
        report = fetch(out, page_size=20, client=client(api))
        assert out.read_bytes() == whole.read_bytes()
        assert (report.resumed, report.studies, report.pages, report.duplicates) == (40, 108, 4, 0)
        first = api.seen()[before]
        assert first.params["pageToken"] == state["next"] and "countTotal" not in first.params
        assert not partial_path(out).exists() and not resume_path(out).exists()


def test_killed_cli_fetch_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    """A real kill (SIGKILL) of ``trialport fetch`` while page 3 is on its way; the same command again finishes it."""
    whole, out = tmp_path / "whole.jsonl", tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        fetch(whole, page_size=20, client=client(api))
        api.inject("slow", [api.studies_requests + 3], delay=3.0)
        command = ["fetch", "--api", api.url, "--out", str(out), "--per-minute", "60000", "--page-size", "20"]
        process = subprocess.Popen([sys.executable, "-m", "trialport", *command], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(api.seen()) < 6 + 3 and time.monotonic() < deadline:  # the first fetch made 6
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=10)
        assert not out.exists() and partial_path(out).read_bytes().count(b"\n") == 40
        api.clear_faults()
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == whole.read_bytes()
        assert "108 of 108 studies" in result.output and "(40 from an earlier run)" in result.output


def test_a_resume_of_another_query_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        api.inject("503", range(2, 10))
        with pytest.raises(FetchError):
            fetch(out, page_size=20, client=client(api, retries=1))
        api.clear_faults()
        with pytest.raises(FetchError, match="an unfinished fetch of another query"):
            fetch(out, Query(status="WITHDRAWN"), page_size=20, client=client(api))
        report = fetch(out, Query(status="WITHDRAWN"), page_size=20, client=client(api), restart=True)
    assert report.studies == 6 and report.resumed == 0


def test_query_options_reach_the_api_as_its_parameters(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    options = ["--cond", "NSCLC", "--term", "lung", "--intr", "pembrolizumab", "--locn", "Chicago"]
    options += ["--titles", "LUNG-05", "--spons", "Illinois", "--status", "recruiting,COMPLETED"]
    options += ["--nct", "NCT06576635,nct04007835", "--near", "41.87,-87.62,50mi"]
    options += ["--updated-since", "2024-01-01", "--advanced", "AREA[LastUpdatePostDate]RANGE[MIN,2025-12-31]"]
    with CtgovApiServer() as api:
        result = runner.invoke(
            app, ["fetch", "--api", api.url, "--out", str(out), "--per-minute", "60000", "--page-size", "7", *options]
        )
        assert result.exit_code == 0, result.output
        assert api.seen()[0].params == {
            "query.cond": "NSCLC",
            "query.term": "lung",
            "query.intr": "pembrolizumab",
            "query.locn": "Chicago",
            "query.titles": "LUNG-05",
            "query.spons": "Illinois",
            "filter.overallStatus": "RECRUITING,COMPLETED",
            "filter.ids": "NCT06576635,NCT04007835",
            "filter.geo": "distance(41.87,-87.62,50mi)",
            "filter.advanced": "AREA[LastUpdatePostDate]RANGE[2024-01-01,MAX] AND "
            "(AREA[LastUpdatePostDate]RANGE[MIN,2025-12-31])",
            "pageSize": "7",
            "countTotal": "true",
        }
        assert len(api.seen("/version")) == 1


@pytest.mark.parametrize(
    ("options", "expected"),
    [  # expected NCT numbers found by hand in the raw files (grep), in file order
        (["--status", "WITHDRAWN"], ["NCT05693090", "NCT00576225", "NCT06332300", "NCT02795884", "NCT03058094"]),
        (["--nct", "NCT05594173,NCT06576635"], ["NCT06576635", "NCT05594173"]),
        (["--cond", "nsclc STAGE"], ["NCT05701787", "NCT04636775", "NCT05816499"]),
        (["--updated-since", "2025-12-01"], ["NCT04318938", "NCT05463224"]),
        (
            ["--updated-since", "2025-11-20", "--advanced", "AREA[LastUpdatePostDate]RANGE[MIN,2025-12-01]"],
            ["NCT07247227", "NCT05714891", "NCT05378763"],
        ),
    ],
)
def test_query_options_select_the_studies(tmp_path: Path, options: list[str], expected: list[str]) -> None:
    out = tmp_path / "studies.jsonl"
    if options[:2] == ["--status", "WITHDRAWN"]:
        expected = [*expected, "NCT00973089"]  # the one withdrawn AACT study
    with CtgovApiServer() as api:
        result = runner.invoke(
            app, ["fetch", "--api", api.url, "--out", str(out), "--per-minute", "60000", "--page-size", "2", *options]
        )
    assert result.exit_code == 0, result.output
    assert line_ids(out) == expected


def test_an_empty_answer_gives_an_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    with CtgovApiServer() as api:
        report = fetch(out, Query(cond="no such condition"), client=client(api))
    assert out.read_bytes() == b"" and (report.studies, report.pages, report.total_count) == (0, 1, 0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--status", "RECRUTING", "unknown status RECRUTING"),
        ("--nct", "NCT123X", "not an NCT number: NCT123X"),
        ("--near", "41.8,-87.6", "is not LAT,LON,DISTANCE"),
        ("--near", "141.8,-87.6,5km", "is not a latitude,longitude"),
        ("--updated-since", "01/02/2024", "is not a date"),
    ],
)
def test_bad_query_options_are_usage_errors(tmp_path: Path, option: str, value: str, message: str) -> None:
    result = runner.invoke(
        app, ["fetch", "--api", "http://127.0.0.1:9", "--out", str(tmp_path / "x.jsonl"), option, value]
    )
    assert result.exit_code == 2 and message in result.output


def test_a_parameter_the_api_refuses_is_not_retried() -> None:
    with CtgovApiServer() as api:
        api_client = client(api)
        with pytest.raises(ApiError, match=r"GET studies: HTTP 400: unknown parameter: query\.unknown"):
            api_client.get("studies", {"query.unknown": "x"})
        assert api_client.requests == 1 and len(api.seen()) == 1


def test_retries_exhausted_give_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        api.inject("503", range(2, 100))
        command = [
            "fetch",
            "--api",
            api.url,
            "--out",
            str(out),
            "--per-minute",
            "60000",
            "--page-size",
            "50",
            "--retries",
            "0",
        ]
        result = runner.invoke(app, command)
        assert len(api.seen()) == 2
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "fetch failed: GET studies: HTTP 503 after 1 attempt; 50 studies kept: run the same fetch again to resume"
    )
    assert partial_path(out).read_bytes().count(b"\n") == 50 and not out.exists()


def test_the_request_rate_stays_under_the_limit(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        report = fetch(out, page_size=10, client=ApiClient(api.url, per_minute=600, backoff=0.01))  # 10 a second
        times = [r.at for r in api.requests]
    assert len(times) == report.requests == 12  # /version, then 11 pages of 10
    # as the server saw them arrive (a few ms of scheduling either way): the k-th no sooner than k/10 s after the first
    assert all(at - times[0] >= k / 10 - 0.02 for k, at in enumerate(times))
    assert (len(times) - 1) / (times[-1] - times[0]) <= 10.2


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    waits = [bucket.take() for _ in range(7)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5] and now[0] == 2.0


def test_the_report_records_the_data_timestamp(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        report = fetch(out, page_size=50, client=client(api))
        assert report.data_timestamp == NEWEST and report.api_version == "2.0.5"
    with CtgovApiServer(data_timestamp="2026-01-13T09:00:04") as api:
        result = runner.invoke(
            app, ["fetch", "--api", api.url, "--out", str(out), "--per-minute", "60000", "--page-size", "50", "--json"]
        )
    found = json.loads(result.stdout)
    assert result.exit_code == 0
    assert found["dataTimestamp"] == "2026-01-13T09:00:04" and found["studies"] == found["totalCount"] == 108
    assert (found["pages"], found["requests"], found["retries"]) == (3, 4, 0)


def test_the_fetched_file_converts_to_the_same_trials(tmp_path: Path) -> None:
    out = tmp_path / "studies.jsonl"
    with CtgovApiServer() as api:
        fetch(out, page_size=30, client=client(api))
    result = runner.invoke(app, ["convert", str(out), "--to", "json", "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    fetched = [orjson.loads(line) for line in (tmp_path / "out" / "trials.jsonl").open("rb")]
    original = [t.model_dump(mode="json") for t in pipeline.trials([NSCLC, *AACT])]
    for trial in fetched + original:
        trial.pop("source")
    assert len(fetched) == 108 and fetched == original
    assert os.path.getsize(out) > 1_000_000


def test_a_later_fetch_sees_the_registry_as_it_changed(tmp_path: Path) -> None:
    """The stand-in's records change between runs, as the registry's do (what incremental updates rely on)."""
    with CtgovApiServer() as api:
        api.remove("NCT00763412")
        api.set_status("NCT06576635", "COMPLETED")
        api.set_last_update("NCT06576635", "2026-01-12")
        report = fetch(tmp_path / "all.jsonl", page_size=50, client=client(api))
        since = fetch(tmp_path / "new.jsonl", Query(updated_since="2026-01-01"), client=client(api))
    ids = line_ids(tmp_path / "all.jsonl")
    assert report.studies == 107 and "NCT00763412" not in ids and ids[0] == "NCT06576635"
    assert line_ids(tmp_path / "new.jsonl") == ["NCT06576635"] and since.total_count == 1
    changed = orjson.loads((tmp_path / "new.jsonl").read_bytes())["protocolSection"]["statusModule"]
    assert changed["overallStatus"] == "COMPLETED" and changed["lastUpdatePostDateStruct"]["date"] == "2026-01-12"
