"""Pushing to a real FHIR server on 127.0.0.1 (sekmet-fhir, R4): idempotent, retried, and safe."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import CTGOV, SEEDS
from fhir_servers import TOKEN, FaultyFront, count, free_port, medplum, sekmet

from trialport import pipeline
from trialport.fhirclient import Client, push

pytestmark = pytest.mark.slow

INPUTS = [SEEDS, CTGOV / "aact-fixtures" / "v2-json"]  # 4 seeds + 13 v2 records (12 distinct studies)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sekmet(tmp_path_factory.mktemp("sekmet")) as base:
        yield base


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("FHIR_TOKEN", TOKEN)


def quick(url: str, retries: int = 4, timeout: float = 30.0) -> Client:
    return Client(url, token=TOKEN, retries=retries, backoff=0.05, timeout=timeout)


def test_push_read_back_push_again_counts_unchanged(server):
    first = push(INPUTS, server, "R4B", token_env="FHIR_TOKEN", batch_size=5)
    assert first.exit_code == 0
    assert first.counts()["created"] == 16 and sum(first.counts().values()) == 17
    studies, organizations = count(server, "ResearchStudy"), count(server, "Organization")
    assert studies == 16 and organizations > 0
    second = push(INPUTS, server, "R4B", token_env="FHIR_TOKEN", batch_size=7)
    assert second.counts() == {"updated": 17}
    assert (count(server, "ResearchStudy"), count(server, "Organization")) == (studies, organizations)
    # read one back: the server holds what was pushed, and it reads back into the same trial
    import httpx

    from trialport.readers.fhir import study

    stored = httpx.get(f"{server}/ResearchStudy/NCT00973089", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    back = study(stored, "server", None)
    original = next(t for t in pipeline.trials([CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"]))
    assert (back.title, back.status, back.sponsor) == (original.title, original.status, original.sponsor)
    assert [(o.measure, o.time_frame) for o in back.outcomes] == [(o.measure, o.time_frame) for o in original.outcomes]


def test_exported_fhir_files_push_too(server, tmp_path):
    pipeline.convert([SEEDS], tmp_path, ["fhir"], options={"fhir_version": "R4B"})
    report = push([tmp_path / "fhir" / "R4B" / "bundle.json"], server, "R4B", token_env="FHIR_TOKEN")
    assert report.exit_code == 0 and len(report.outcomes) == 4


def test_500s_then_recovery(server):
    front = FaultyFront(server, "500", faults=2)
    try:
        report = push([SEEDS], front.url, "R4B", token_env="FHIR_TOKEN", client=quick(front.url))
    finally:
        front.close()
    assert report.exit_code == 0 and front.requests == 3
    assert {o.status for o in report.outcomes} <= {"created", "updated"}


def test_429_retry_after_is_honoured(server):
    front = FaultyFront(server, "429", faults=1)
    waits: list[float] = []
    client = quick(front.url)
    client.sleep = waits.append  # record the wait instead of sleeping it
    try:
        report = push([SEEDS], front.url, "R4B", token_env="FHIR_TOKEN", client=client)
    finally:
        front.close()
    assert report.exit_code == 0 and waits == [1.0]


def test_dropped_connection_mid_batch_then_recovery(server):
    front = FaultyFront(server, "drop", faults=1)
    try:
        report = push(INPUTS, front.url, "R4B", token_env="FHIR_TOKEN", batch_size=5, client=quick(front.url))
    finally:
        front.close()
    assert report.exit_code == 0 and count(server, "ResearchStudy") == 16  # nothing duplicated


def test_server_down_reports_every_trial_failed_and_nothing_pushed():
    url = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens here
    report = push([SEEDS], url, "R4B", token_env="FHIR_TOKEN", client=quick(url, retries=2))
    assert report.counts() == {"failed": 4}
    assert all("ConnectError" in o.message and "3 attempts" in o.message for o in report.outcomes)


def test_slow_server_past_the_timeout(server):
    front = FaultyFront(server, "slow", faults=10)
    try:
        report = push([SEEDS], front.url, "R4B", token_env="FHIR_TOKEN", client=quick(front.url, retries=1, timeout=1))
    finally:
        front.close()
    assert report.counts() == {"failed": 4} and "Timeout" in report.outcomes[0].message


def test_one_refused_resource_fails_alone_with_the_servers_reason(server):
    front = FaultyFront(server, refuse="local-982b0ee904f1")
    try:
        report = push([SEEDS], front.url, "R4B", token_env="FHIR_TOKEN", batch_size=10, client=quick(front.url))
    finally:
        front.close()
    outcomes = {o.trial: o for o in report.outcomes}
    assert outcomes["local-982b0ee904f1"].status == "failed"
    assert outcomes["local-982b0ee904f1"].message == "HTTP 400: ResearchStudy.phase: not allowed here"
    assert {o.status for t, o in outcomes.items() if t != "local-982b0ee904f1"} <= {"created", "updated"}
    assert report.exit_code == 1 and len(outcomes) == 4


def test_token_never_appears_in_output(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/fhir"
    env = {**os.environ, "FHIR_TOKEN": TOKEN}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialport",
            "push",
            str(SEEDS),
            "--server",
            url,
            "--fhir-version",
            "R4B",
            "--token-env",
            "FHIR_TOKEN",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert TOKEN not in run.stdout + run.stderr
    assert "failed" in run.stdout


def test_only_http_urls():
    with pytest.raises(ValueError, match="http"):
        push([SEEDS], "ftp://example.org/fhir", dry_run=True)


def test_conditional_mode_on_a_server_that_assigns_ids():
    with medplum() as base:
        first = push(INPUTS, base, "R4B", batch_size=5, mode="conditional")
        # Medplum answers a create by PUT with 200 and no version 1 to tell: the counts are the test
        assert first.exit_code == 0 and len(first.outcomes) == 17
        studies, organizations = count(base, "ResearchStudy"), count(base, "Organization")
        assert studies == 16
        second = push(INPUTS, base, "R4B", batch_size=4, mode="conditional")
        assert second.counts() == {"updated": 17}
        assert (count(base, "ResearchStudy"), count(base, "Organization")) == (studies, organizations)
        import httpx

        found = httpx.get(
            f"{base}/ResearchStudy", params={"identifier": "https://clinicaltrials.gov|NCT00973089"}
        ).json()
        (study,) = [e["resource"] for e in found["entry"]]
        assert study["id"] != "NCT00973089"  # the server chose the id
        sponsor = httpx.get(f"{base}/{study['sponsor']['reference']}").json()
        assert sponsor["name"] == "Hadassah Medical Organization"
