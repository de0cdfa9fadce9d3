"""Pushing to a real FHIR server on 127.0.0.1 (sekmet-fhir, R4): idempotent, retried, and safe."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import CTGOV, SEEDS
from fhir_servers import TOKEN, FaultyFront, count, free_port, medplum, sekmet, self_signed

from trialport import pipeline
from trialport.fhir.codes import NCT_SYSTEM
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


def push_command(url: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``trialport push`` of the seeds in a subprocess, in ``cwd``, with the token in its environment."""
    command = [sys.executable, "-m", "trialport", "push", str(SEEDS), "--server", url, "--fhir-version", "R4B"]
    return subprocess.run(
        [*command, "--token-env", "FHIR_TOKEN", *options],
        env={**os.environ, "FHIR_TOKEN": TOKEN},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_token_nowhere(run: subprocess.CompletedProcess[str], folder: Path) -> None:
    """Not on stdout or stderr, and not in any file the run wrote."""
    assert TOKEN not in run.stdout + run.stderr
    assert [p for p in folder.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()] == []


def test_token_never_appears_in_output(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/fhir"
    run = push_command(url, tmp_path)
    assert run.returncode == 1
    assert_token_nowhere(run, tmp_path)
    assert "failed" in run.stdout


def test_token_echoed_back_by_a_401_is_cut_from_every_message(server, tmp_path, caplog):
    front = FaultyFront(server, "echo401", faults=1000)
    try:
        run = push_command(front.url, tmp_path)
        with caplog.at_level(logging.DEBUG):  # httpx's and httpcore's logs too
            report = push([SEEDS], front.url, "R4B", token_env="FHIR_TOKEN", client=quick(front.url))
    finally:
        front.close()
    assert run.returncode == 1 and run.stdout.count("HTTP 401") == 4
    assert "Bearer [token]" in run.stdout  # the server did echo it: cut, not absent by luck
    assert_token_nowhere(run, tmp_path)
    assert report.counts() == {"failed": 4} and front.requests == 2  # one batch each, not split trial by trial
    assert all("Bearer [token]" in o.message and TOKEN not in o.message for o in report.outcomes)
    assert caplog.records and TOKEN not in caplog.text


def studies_by_identifier(base: str) -> Counter[str]:
    """How many ResearchStudy resources the server holds per identifier value."""
    found = httpx.get(
        f"{base}/ResearchStudy", params={"_count": 500}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ).json()
    studies = [entry["resource"] for entry in found.get("entry", [])]
    assert len(studies) == found.get("total", len(studies))  # one page holds them all
    return Counter(i["value"] for s in studies for i in s.get("identifier", []) if i.get("system") == NCT_SYSTEM)


def held(base: str, trial: str) -> bool:
    answer = httpx.get(f"{base}/ResearchStudy/{trial}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return answer.status_code == 200


@pytest.mark.parametrize("fault", ["500", "lost"])
def test_server_failing_part_way_then_a_rerun_completes_without_duplicates(fault, tmp_path):
    """The second of four batches fails beyond every retry: with 500s (the server never stored it) or with
    its answers lost (stored, but the client never heard). The report claims nothing not stored, and a
    re-run against the healthy server completes the rest: one ResearchStudy per trial."""
    ids = [t.id for t in pipeline.trials(INPUTS)]
    with sekmet(tmp_path) as base:
        front = FaultyFront(base, fault, faults=5, start=1)  # five attempts of batch 2: retries=4 plus the first
        try:
            first = push(INPUTS, front.url, "R4B", token_env="FHIR_TOKEN", batch_size=5, client=quick(front.url))
        finally:
            front.close()
        failed = [o.trial for o in first.outcomes if o.status == "failed"]
        assert failed == ids[5:10] and first.exit_code == 1
        pushed = {o.trial for o in first.outcomes if o.status != "failed"}
        assert all(held(base, trial) for trial in pushed)
        assert [held(base, t) for t in failed] == [fault == "lost" or t in pushed for t in failed]  # one came twice
        second = push(INPUTS, base, "R4B", token_env="FHIR_TOKEN", batch_size=5)
        assert second.exit_code == 0 and len(second.outcomes) == 17
        fixed = [o.status for o in second.outcomes[5:10]]
        assert fixed == ["updated" if fault == "lost" or t in pushed else "created" for t in failed]
        assert count(base, "ResearchStudy") == 16
        nct = studies_by_identifier(base)
        assert set(nct) == {t for t in ids if t.startswith("NCT")} and set(nct.values()) == {1}


def test_untrusted_certificate_fails_clearly_and_insecure_pushes_with_a_warning(server, tmp_path):
    front = FaultyFront(server, tls=self_signed(tmp_path))
    try:
        refused = push_command(front.url, tmp_path)
        assert (refused.returncode, front.requests) == (1, 0)  # nothing sent past the handshake
        assert refused.stdout.count("TLS certificate not trusted") == 4 and "4 failed" in refused.stdout
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stdout and "warning" not in refused.stderr
        insecure = push_command(front.url, tmp_path, "--insecure")
    finally:
        front.close()
    assert insecure.returncode == 0 and front.forwarded == 1
    assert insecure.stderr.strip().splitlines() == ["warning: --insecure: the server's TLS certificate is not verified"]
    assert "failed" not in insecure.stdout
    assert_token_nowhere(insecure, tmp_path)


def test_insecure_reaches_the_client():
    assert Client("https://127.0.0.1:1/fhir", verify=False).http._transport._pool._ssl_context.verify_mode == (
        ssl.CERT_NONE
    )


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
