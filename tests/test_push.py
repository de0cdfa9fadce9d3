"""Pushing to real FHIR R4 servers on 127.0.0.1 (sekmet-fhir; Medplum, which picks its own ids): every
resource a study refers to arrives once, nothing dangles, and it stays idempotent, retried and safe."""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import CTGOV, SEEDS
from fhir_servers import (
    TOKEN,
    FaultyFront,
    count,
    dangling,
    free_port,
    medplum,
    references,
    sekmet,
    self_signed,
    stored,
)

from trialport import pipeline
from trialport.fhir.codes import CANONICAL, NCT_SYSTEM
from trialport.fhirclient import Client, push

pytestmark = pytest.mark.slow

INPUTS = [SEEDS, CTGOV / "aact-fixtures" / "v2-json"]  # 4 seeds + 13 v2 records (12 distinct studies)
SHARED = ("Organization", "Location", "Practitioner", "PractitionerRole")
TYPES = ("ResearchStudy", *SHARED, "Group", "PlanDefinition")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sekmet(tmp_path_factory.mktemp("sekmet")) as base:
        yield base


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("FHIR_TOKEN", TOKEN)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, set[str]]:
    """The distinct ids of each resource type in the R4 export of INPUTS: what a server holds after a push."""
    out = tmp_path_factory.mktemp("export")
    pipeline.convert(INPUTS, out, ["fhir"], options={"fhir_version": "R4"})
    lines = {kind: (out / "fhir" / "R4" / f"{kind}.ndjson").read_text(encoding="utf-8").splitlines() for kind in TYPES}
    return {kind: {json.loads(line)["id"] for line in found} for kind, found in lines.items()}


def distinct_sites() -> int:
    """The sites of the raw API v2 records (the seeds name none), told apart as a Location id tells them:
    facility, city, state and country, each case folded with runs of non-word characters made one space."""
    normal = lambda text: re.sub(r"\W+", " ", (text or "").casefold()).strip()  # noqa: E731
    sites = set()
    for path in (CTGOV / "aact-fixtures" / "v2-json").rglob("*.json"):
        module = json.loads(path.read_text(encoding="utf-8"))["protocolSection"].get("contactsLocationsModule", {})
        for site in module.get("locations", []):
            sites.add(tuple(normal(site.get(part)) for part in ("facility", "city", "state", "country")))
    return len(sites)


def holds(base: str) -> dict[str, int]:
    return {kind: count(base, kind) for kind in TYPES}


def ours(base: str, kind: str) -> Counter[str]:
    """How many resources of ``kind`` the server holds per identifier of ours (their export ids)."""
    systems = f"{CANONICAL}/sid/"
    return Counter(
        i["value"] for r in stored(base, kind) for i in r.get("identifier", []) if i["system"].startswith(systems)
    )


def quick(url: str, retries: int = 4, timeout: float = 30.0) -> Client:
    return Client(url, token=TOKEN, retries=retries, backoff=0.05, timeout=timeout)


def test_push_read_back_push_again_counts_unchanged(server, exported):
    first = push(INPUTS, server, "R4", token_env="FHIR_TOKEN", batch_size=5)
    assert first.exit_code == 0
    assert first.counts()["created"] == 16 and sum(first.counts().values()) == 17
    expected = {kind: len(ids) for kind, ids in exported.items()}
    assert expected["ResearchStudy"] == 16 and expected["Location"] == distinct_sites() == 157
    assert holds(server) == expected  # one Location per distinct site, one Practitioner per person...
    assert dangling(server, TYPES) == []
    # sent once in the run, though NCT02552212 comes twice (its two records in batches 2 and 3)
    assert {kind: first.sent[kind] for kind in SHARED} == {kind: expected[kind] for kind in SHARED}
    second = push(INPUTS, server, "R4", token_env="FHIR_TOKEN", batch_size=7)
    assert second.counts() == {"updated": 17}
    assert holds(server) == expected
    # read one back: the server holds what was pushed, and it reads back into the same trial
    from trialport.readers.fhir import study

    kept = httpx.get(f"{server}/ResearchStudy/NCT00973089", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    back = study(kept, "server", None)
    original = next(t for t in pipeline.trials([CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"]))
    assert (back.title, back.status, back.sponsor) == (original.title, original.status, original.sponsor)
    assert [(o.measure, o.time_frame) for o in back.outcomes] == [(o.measure, o.time_frame) for o in original.outcomes]


def test_a_study_given_twice_goes_in_two_transactions(server):
    """NCT02552212 has two records among INPUTS: one transaction may not PUT the same resource twice."""
    from trialport.fhirclient import _batches

    batches = [[t.id for t in batch] for batch in _batches(pipeline.trials(INPUTS), 50)]
    assert sum(map(len, batches)) == 17 and len(batches) == 2
    assert all(len(set(ids)) == len(ids) for ids in batches)
    assert batches[1][0] == "NCT02552212"
    report = push(INPUTS, server, "R4", token_env="FHIR_TOKEN", batch_size=50)
    assert report.exit_code == 0 and len(report.outcomes) == 17


@pytest.mark.parametrize("version", ["R4", "R4B"])
def test_exported_fhir_files_push_too(server, tmp_path, version):
    pipeline.convert([SEEDS], tmp_path, ["fhir"], options={"fhir_version": version})
    report = push([tmp_path / "fhir" / version / "bundle.json"], server, "R4", token_env="FHIR_TOKEN")
    assert report.exit_code == 0 and len(report.outcomes) == 4


def test_what_an_entry_refers_to_comes_before_it_in_the_transaction(server):
    """Organizations, Locations, Practitioners, then PractitionerRoles, Groups, PlanDefinitions and
    ResearchStudies: a server that applies entries in order, or refuses a reference to what is not there
    yet, takes every batch."""
    front = FaultyFront(server)
    try:
        report = push(INPUTS, front.url, "R4", token_env="FHIR_TOKEN", batch_size=5, client=quick(front.url))
    finally:
        front.close()
    assert report.exit_code == 0 and front.requests == 4
    order = ("Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition", "ResearchStudy")
    for body in front.bodies:
        entries = json.loads(body)["entry"]
        kinds = [e["resource"]["resourceType"] for e in entries]
        assert kinds == sorted(kinds, key=order.index)
        position = {e["request"]["url"]: n for n, e in enumerate(entries)}
        assert len(position) == len(entries)  # each resource once
        for n, entry in enumerate(entries):
            assert all(position.get(ref, -1) < n for ref in references(entry["resource"]))


def test_500s_then_recovery(server):
    front = FaultyFront(server, "500", faults=2)
    try:
        report = push([SEEDS], front.url, "R4", token_env="FHIR_TOKEN", client=quick(front.url))
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
        report = push([SEEDS], front.url, "R4", token_env="FHIR_TOKEN", client=client)
    finally:
        front.close()
    assert report.exit_code == 0 and waits == [1.0]


def test_dropped_connection_mid_batch_then_recovery(server):
    front = FaultyFront(server, "drop", faults=1)
    try:
        report = push(INPUTS, front.url, "R4", token_env="FHIR_TOKEN", batch_size=5, client=quick(front.url))
    finally:
        front.close()
    assert report.exit_code == 0 and count(server, "ResearchStudy") == 16  # nothing duplicated


def test_server_down_reports_every_trial_failed_and_nothing_pushed():
    url = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens here
    report = push([SEEDS], url, "R4", token_env="FHIR_TOKEN", client=quick(url, retries=2))
    assert report.counts() == {"failed": 4}
    assert all("ConnectError" in o.message and "3 attempts" in o.message for o in report.outcomes)


def test_slow_server_past_the_timeout(server):
    front = FaultyFront(server, "slow", faults=10)
    try:
        report = push([SEEDS], front.url, "R4", token_env="FHIR_TOKEN", client=quick(front.url, retries=1, timeout=1))
    finally:
        front.close()
    assert report.counts() == {"failed": 4} and "Timeout" in report.outcomes[0].message


def test_one_refused_resource_fails_alone_with_the_servers_reason(server):
    front = FaultyFront(server, refuse="local-982b0ee904f1")
    try:
        report = push([SEEDS], front.url, "R4", token_env="FHIR_TOKEN", batch_size=10, client=quick(front.url))
    finally:
        front.close()
    outcomes = {o.trial: o for o in report.outcomes}
    assert outcomes["local-982b0ee904f1"].status == "failed"
    assert outcomes["local-982b0ee904f1"].message == "HTTP 400: ResearchStudy.phase: not allowed here"
    assert {o.status for t, o in outcomes.items() if t != "local-982b0ee904f1"} <= {"created", "updated"}
    assert report.exit_code == 1 and len(outcomes) == 4


def push_command(url: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``trialport push`` of the seeds in a subprocess, in ``cwd``, with the token in its environment."""
    command = [sys.executable, "-m", "trialport", "push", str(SEEDS), "--server", url, "--fhir-version", "R4"]
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
            report = push([SEEDS], front.url, "R4", token_env="FHIR_TOKEN", client=quick(front.url))
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
def test_server_failing_part_way_then_a_rerun_completes_without_duplicates(fault, tmp_path, exported):
    """The second of four batches fails beyond every retry: with 500s (the server never stored it) or with
    its answers lost (stored, but the client never heard). The report claims nothing not stored, nothing
    stored refers to what is not there (the third batch sends again the sites it shares with the failed
    second), and a re-run against the healthy server completes the rest: one resource per id."""
    ids = [t.id for t in pipeline.trials(INPUTS)]
    with sekmet(tmp_path) as base:
        front = FaultyFront(base, fault, faults=5, start=1)  # five attempts of batch 2: retries=4 plus the first
        try:
            first = push(INPUTS, front.url, "R4", token_env="FHIR_TOKEN", batch_size=5, client=quick(front.url))
        finally:
            front.close()
        failed = [o.trial for o in first.outcomes if o.status == "failed"]
        assert failed == ids[5:10] and first.exit_code == 1
        pushed = {o.trial for o in first.outcomes if o.status != "failed"}
        assert all(held(base, trial) for trial in pushed)
        assert [held(base, t) for t in failed] == [fault == "lost" or t in pushed for t in failed]  # one came twice
        assert dangling(base, TYPES) == []
        second = push(INPUTS, base, "R4", token_env="FHIR_TOKEN", batch_size=5)
        assert second.exit_code == 0 and len(second.outcomes) == 17
        fixed = [o.status for o in second.outcomes[5:10]]
        assert fixed == ["updated" if fault == "lost" or t in pushed else "created" for t in failed]
        assert holds(base) == {kind: len(found) for kind, found in exported.items()}
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


def test_conditional_mode_on_a_server_that_assigns_ids(exported):
    """Medplum refuses the batches (more than 8 entries with conditional creates): each trial goes alone,
    and a trial with many sites sends them in parts first. Every resource once, found by our identifier."""
    with medplum() as base:
        first = push(INPUTS, base, "R4", batch_size=5, mode="conditional")
        # Medplum answers some creates by PUT with 200 and no version 1 to tell: the counts are the test
        assert first.exit_code == 0 and len(first.outcomes) == 17
        once = {kind: Counter(ids) for kind, ids in exported.items() if kind != "ResearchStudy"}
        assert {kind: ours(base, kind) for kind in once} == once
        assert count(base, "ResearchStudy") == 16 and dangling(base, TYPES) == []
        second = push(INPUTS, base, "R4", batch_size=4, mode="conditional")
        assert second.counts() == {"updated": 17}
        assert {kind: ours(base, kind) for kind in once} == once and count(base, "ResearchStudy") == 16
        found = httpx.get(
            f"{base}/ResearchStudy", params={"identifier": "https://clinicaltrials.gov|NCT00973089"}
        ).json()
        (study,) = [e["resource"] for e in found["entry"]]
        assert study["id"] != "NCT00973089"  # the server chose the id
        sponsor = httpx.get(f"{base}/{study['sponsor']['reference']}").json()
        assert sponsor["name"] == "Hadassah Medical Organization"


def test_conditional_push_failing_part_way_then_a_rerun_leaves_no_duplicates(exported):
    """Where the server picks the ids, a resource sent again must be found by its identifier, not made
    twice: the server applies the second transaction that carries sites, but its answer is lost on every
    try. The trials in it fail; a re-run completes them with one resource per identifier of ours."""
    with medplum() as base:
        front = FaultyFront(base, "lost", faults=5, start=1, only="loc-")
        try:
            first = push(INPUTS, front.url, "R4", batch_size=5, mode="conditional", client=quick(front.url))
        finally:
            front.close()
        # batches of 5 are refused (too many entries), so trials go alone: NCT00763412 carries the first
        # site, NCT00973089 (one site) the second
        (failed,) = [o for o in first.outcomes if o.status == "failed"]
        assert (failed.trial, front.lost, first.exit_code) == ("NCT00973089", 5, 1)
        assert failed.message.startswith("RemoteProtocolError") and failed.message.endswith("after 5 attempts")
        assert studies_by_identifier(base)["NCT00973089"] == 1 and dangling(base, TYPES) == []  # stored, unheard
        second = push(INPUTS, base, "R4", batch_size=5, mode="conditional")
        assert second.exit_code == 0 and len(second.outcomes) == 17
        once = {kind: Counter(ids) for kind, ids in exported.items() if kind != "ResearchStudy"}
        assert {kind: ours(base, kind) for kind in once} == once
        nct = studies_by_identifier(base)
        assert set(nct) == {t for t in exported["ResearchStudy"] if t.startswith("NCT")} and set(nct.values()) == {1}
