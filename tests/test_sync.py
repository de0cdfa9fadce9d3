"""``trialport sync`` against the stand-in API (the real records) and a real FHIR server (sekmet-fhir):
the first run pushes the whole query, a run with nothing changed pushes nothing, a later run pushes
exactly the trials that changed or left the query, an interrupted run is completed by the next, two runs
at once are refused, and a trial the registry dropped is reported, or deleted when asked. In conditional
mode against Medplum, which picks its own ids, the same by the server's ids; and R5 resources sent valid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from conftest import v2_studies
from ctgov_api_server import CtgovApiServer, nct_id
from fhir_servers import TOKEN, FaultyFront, count, dangling, medplum, node_tools, sekmet, stored

from trialport.ctgov_api import ApiClient
from trialport.fetch import Query
from trialport.fhir.codes import NCT_SYSTEM
from trialport.fhirclient import Client
from trialport.sync import SyncError, status_lines, sync
from trialport.sync_state import State

pytestmark = pytest.mark.slow  # starts a FHIR server

SHARED_TYPES = ("Organization", "Location", "Practitioner", "PractitionerRole")
STATUSES = "RECRUITING,NOT_YET_RECRUITING,ACTIVE_NOT_RECRUITING"
QUERY = Query(status=STATUSES)


def in_query() -> list[str]:
    """The NCT numbers of the raw records whose overallStatus the query names (read from the files)."""
    wanted = set(STATUSES.split(","))
    return sorted(nct_id(s) for s in v2_studies() if s["protocolSection"]["statusModule"]["overallStatus"] in wanted)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sekmet(tmp_path_factory.mktemp("sekmet")) as base:
        yield base


@pytest.fixture
def fresh(tmp_path):
    """A server of its own, empty, for a test that counts what the server holds."""
    (tmp_path / "sekmet").mkdir()
    with sekmet(tmp_path / "sekmet") as base:
        yield base


def run(api: CtgovApiServer, base: str, state: Path, retries: int = 4, **options):
    """One sync, without the API's pacing and with short waits between retries."""
    client = ApiClient(api.url, per_minute=1_000_000, backoff=0.01)
    fhir = Client(base, token=TOKEN, retries=retries, backoff=0.01)
    return sync(options.pop("query", QUERY), base, state, api_client=client, fhir_client=fhir, version="R4", **options)


def studies_sent(front: FaultyFront, since: int) -> list[str]:
    """The ResearchStudies of the transactions the front received from POST number ``since`` on (by id;
    in conditional mode, by the NCT number the update matches on)."""
    return [
        e["resource"].get("id") or e["request"]["url"].rpartition("|")[2]
        for body in front.bodies[since:]
        for e in json.loads(body)["entry"]
        if e["resource"]["resourceType"] == "ResearchStudy"
    ]


def get(base: str, path: str) -> httpx.Response:
    return httpx.get(f"{base}/{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def test_first_run_pushes_the_query_then_nothing_then_exactly_what_changed(fresh, tmp_path):
    expected = in_query()
    assert len(expected) == 46  # 26 RECRUITING + 9 NOT_YET_RECRUITING + 11 ACTIVE_NOT_RECRUITING records
    state = tmp_path / "sync.sqlite"
    front = FaultyFront(fresh)
    with CtgovApiServer() as api:
        first = run(api, front.url, state)
        assert first.kind == "full" and sorted(first.pushed) == expected and not first.failed
        assert count(fresh, "ResearchStudy") == 46
        assert sorted(studies_sent(front, 0)) == expected

        # nothing changed: the ids of the query, the studies updated since the data timestamp; nothing pushed
        posts, asked = front.requests, len(api.seen())
        second = run(api, front.url, state)
        assert second.kind == "incremental" and second.pushed == [] and second.unchanged == second.fetched
        assert front.requests == posts  # not one transaction
        params = [r.params for r in api.seen()[asked:]]
        assert params[0]["fields"] == "NCTId" and params[0]["filter.overallStatus"] == STATUSES
        assert params[1]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-12-05,MAX]"

        # 3 records updated (a new title), 1 leaves the query (no longer recruiting)
        recruiting = [
            n for n in expected if api.records[n]["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"
        ]
        changed, leaving = recruiting[:3], recruiting[3]
        for nct in changed:
            study = orjson.loads(orjson.dumps(api.records[nct]))
            study["protocolSection"]["identificationModule"]["briefTitle"] += " (amended)"
            api.put(study)
            api.set_last_update(nct, "2026-01-15")
        api.set_status(leaving, "COMPLETED")
        api.data_timestamp = "2026-01-15T00:00:00"
        posts = front.requests
        third = run(api, front.url, state)
        assert sorted(third.pushed) == sorted([*changed, leaving])
        assert third.left == [leaving] and third.unchanged == third.fetched - 4
        assert sorted(studies_sent(front, posts)) == sorted([*changed, leaving])  # exactly those four were sent
        assert count(fresh, "ResearchStudy") == 46
        assert get(fresh, f"ResearchStudy/{changed[0]}").json()["title"].endswith(" (amended)")
        assert get(fresh, f"ResearchStudy/{leaving}").json()["status"] == "completed"

        # the trial that left is read again by id, and stays quiet while it does not change
        posts = front.requests
        fourth = run(api, front.url, state)
        assert fourth.pushed == [] and front.requests == posts and fourth.by_id == 1
    front.close()
    with State(state, lock=False) as kept:
        rows = kept.trials()
    assert len(rows) == 46 and {r.status for r in rows.values()} == {"pushed"}
    assert [n for n, r in rows.items() if not r.in_query] == [leaving]
    assert rows[changed[0]].last_update == "2026-01-15"


def test_a_run_stopped_part_way_is_completed_by_the_next(fresh, tmp_path):
    expected = in_query()
    state = tmp_path / "sync.sqlite"
    front = FaultyFront(fresh, fault="500", faults=10_000, start=2)  # the server is gone after 2 transactions
    with CtgovApiServer() as api:
        with pytest.raises(SyncError, match="FHIR server: HTTP 500 after 2 attempts"):
            run(api, front.url, state, retries=1, batch_size=10)
        with State(state, lock=False) as kept:
            rows = kept.trials()
            confirmed = kept.hashes()
            last = kept.runs(1)[0]
        pushed = sorted(n for n, r in rows.items() if r.status == "pushed")
        assert len(pushed) == 20 and pushed == sorted(studies_sent(front, 0)[:20])  # two batches of 10 confirmed
        # the batch the server never answered is failed, with why; the trials after it were not reached
        failing = {n: r for n, r in rows.items() if n not in pushed}
        assert len(failing) == 10 and {r.status for r in failing.values()} == {"failed"}
        assert {r.message for r in failing.values()} == {"HTTP 500 after 2 attempts"}
        assert {trial for _, _, trial in confirmed.values() if trial} == set(pushed)  # nothing claimed unconfirmed
        assert last["status"] == "failed" and last["message"].startswith("FHIR server: HTTP 500")
        assert sum(" failed: HTTP 500 after 2 attempts" in line for line in status_lines(state)) == 10

        front.faults = 0  # the server is back
        again = run(api, front.url, state, batch_size=10)
        assert sorted(again.pushed) == sorted(set(expected) - set(pushed)) and not again.failed
    front.close()
    on_server = sorted(r["id"] for r in stored(fresh, "ResearchStudy"))
    assert on_server == expected  # exactly one ResearchStudy per trial
    with State(state, lock=False) as kept:
        assert {r.status for r in kept.trials().values()} == {"pushed"} and len(kept.trials()) == 46
        assert kept.get("last_success") is not None


def test_an_answer_lost_after_the_server_applied_it_is_sent_again_not_doubled(fresh, tmp_path):
    state = tmp_path / "sync.sqlite"
    front = FaultyFront(fresh, fault="lost", faults=1, start=1)  # the second transaction's answer never arrives
    with CtgovApiServer() as api:
        with pytest.raises(SyncError, match="Server disconnected without sending a response"):
            run(api, front.url, state, retries=0, batch_size=10)
        with State(state, lock=False) as kept:
            rows = kept.trials()
        lost = studies_sent(front, 1)
        assert len(lost) == 10 and {rows[n].status for n in lost} == {"failed"}  # applied, but never confirmed
        second = run(api, front.url, state, batch_size=10)
        assert sorted(second.pushed) == sorted(set(in_query()) - {n for n, r in rows.items() if r.status == "pushed"})
        assert set(lost) <= set(second.pushed) and len(second.pushed) == 36
    front.close()
    assert sorted(r["id"] for r in stored(fresh, "ResearchStudy")) == in_query()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "trialport", "sync", *args]


def test_two_syncs_at_once_the_second_refuses(server, tmp_path):
    state = tmp_path / "sync.sqlite"
    env = {**os.environ, "FHIR_TOKEN": TOKEN}
    with CtgovApiServer() as api:
        api.inject("slow", [1], delay=4)  # the first run's fetch takes a while
        common = ["--api", api.url, "--per-minute", "100000", "--status", STATUSES, "--fhir-version", "R4"]
        common += ["--server", server, "--state", str(state), "--token-env", "FHIR_TOKEN"]
        first = subprocess.Popen(cli(*common), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not api.seen() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(cli(*common), env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        message = second.stderr.strip()
        assert "\n" not in message
        assert message.startswith(f"sync stopped: {state}: another sync is running on this state (pid {first.pid},")
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0 and "46 trials pushed" in out.decode()


def test_ctrl_c_part_way_loses_nothing_and_the_next_run_completes(fresh, tmp_path):
    state = tmp_path / "sync.sqlite"
    env = {**os.environ, "FHIR_TOKEN": TOKEN}
    front = FaultyFront(fresh, fault="slow", faults=1, start=1)  # the second transaction takes a while
    with CtgovApiServer() as api:
        common = ["--api", api.url, "--per-minute", "100000", "--status", STATUSES, "--fhir-version", "R4"]
        common += ["--server", front.url, "--state", str(state), "--token-env", "FHIR_TOKEN", "--batch-size", "10"]
        running = subprocess.Popen(cli(*common), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while front.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode == 130 and b"the next run completes it" in err
        with State(state, lock=False) as kept:
            rows = kept.trials()
            assert kept.runs(1)[0]["status"] == "interrupted"
        first_batch = studies_sent(front, 0)[:10]
        assert sorted(n for n, r in rows.items() if r.status == "pushed") == sorted(first_batch)
        assert sorted(n for n, r in rows.items() if r.status == "pending") == sorted(studies_sent(front, 1)[:10])
        front.faults = 0
        again = run(api, front.url, state)
        assert sorted(again.pushed) == sorted(set(in_query()) - set(first_batch))
    front.close()
    assert sorted(r["id"] for r in stored(fresh, "ResearchStudy")) == in_query()


def test_show_state_tells_the_trials_the_last_run_and_what_failed(server, tmp_path):
    state = tmp_path / "sync.sqlite"
    refused = in_query()[5]
    front = FaultyFront(server, refuse=f'"id":"{refused}"')  # a server that refuses this one study
    with CtgovApiServer() as api:
        report = run(api, front.url, state)
    front.close()
    assert list(report.failed) == [refused] and len(report.pushed) == 45
    shown = subprocess.run(cli("--show-state", "--state", str(state)), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == f"state {state}: {front.url} (R4, put)"
    assert lines[1] == f"query: filter.overallStatus={STATUSES}"
    assert lines[2] == "trials: 46 (45 pushed, 1 failed)"
    assert lines[4] == "last successful run: none"
    assert lines[5] == "data timestamp: 2025-12-05T00:00:00 (the next run reads what was updated since)"
    assert lines[6].startswith("last run: #1 full failed, started ") and "45 pushed, 0 unchanged, 1 failed" in lines[6]
    assert lines[7] == f"  {refused} failed: HTTP 400: ResearchStudy.phase: not allowed here"


def test_a_trial_the_registry_dropped_is_reported_and_deleted_only_when_asked(server, tmp_path):
    state = tmp_path / "sync.sqlite"
    query = Query(nct="NCT00973089,NCT02552212")
    with CtgovApiServer() as api:
        assert not run(api, server, state, query=query, out=tmp_path / "out", formats=["fhir"]).failed
        written = (tmp_path / "out" / "fhir" / "R4" / "ResearchStudy.ndjson").read_text(encoding="utf-8").splitlines()
        assert sorted(json.loads(line)["id"] for line in written) == ["NCT00973089", "NCT02552212"]  # --out
        assert get(server, "ResearchStudy/NCT02552212").status_code == 200
        group = get(server, "ResearchStudy/NCT02552212").json()["enrollment"][0]["reference"]
        api.remove("NCT02552212")
        kept = run(api, server, state, query=query)
        assert kept.missing == ["NCT02552212"] and kept.deleted == [] and kept.pushed == []
        assert get(server, "ResearchStudy/NCT02552212").status_code == 200  # reported, not deleted
        assert any(
            line.startswith("  NCT02552212 missing: not returned by the registry") for line in status_lines(state)
        )
        gone = run(api, server, state, query=query, delete_missing=True)
        assert gone.deleted == ["NCT02552212"]
    assert get(server, "ResearchStudy/NCT02552212").status_code in (404, 410)
    assert get(server, group).status_code in (404, 410)  # its own eligibility Group too
    assert get(server, "ResearchStudy/NCT00973089").status_code == 200


def test_without_fields_the_whole_query_is_read_and_still_nothing_unchanged_is_pushed(server, tmp_path):
    state = tmp_path / "sync.sqlite"
    with CtgovApiServer(serves_fields=False) as api:
        run(api, server, state)
        again = run(api, server, state)
    assert again.kind == "full" and again.pushed == [] and again.shared == 0 and again.unchanged == 46
    assert again.notes == ["the API refused fields=NCTId: the whole query was read to know its trials"]


def test_another_target_or_an_updated_since_is_refused(server, tmp_path):
    state = tmp_path / "sync.sqlite"
    with CtgovApiServer() as api:
        run(api, server, state, query=Query(nct="NCT00973089"))
        with pytest.raises(SyncError, match=r"this state belongs to another target: fhir_version R4 \(not R5\)"):
            sync(Query(nct="NCT00973089"), server, state, api_client=ApiClient(api.url), version="R5")
    with pytest.raises(ValueError, match="--updated-since"):
        sync(Query(updated_since="2025-01-01"), server, state)


# -- conditional mode: a server that picks its own ids (Medplum) ----------------------------------------
FEW = ("NCT00763412", "NCT00973089", "NCT06480136")  # 1 site and 2 interventions; 1 site, 1; no site, 1


@pytest.fixture
def assigning():
    """Medplum, empty: it assigns ids itself, so sync must remember the server's own (conditional mode)."""
    with medplum() as base:
        yield base


def run_conditional(api: CtgovApiServer, base: str, state: Path, **options):
    client = ApiClient(api.url, per_minute=1_000_000, backoff=0.01)
    fhir = Client(base, retries=2, backoff=0.01)
    query = Query(nct=",".join(FEW))
    return sync(query, base, state, api_client=client, fhir_client=fhir, version="R4", mode="conditional", **options)


def by_nct(base: str, nct: str) -> list[dict]:
    """The server's ResearchStudies that carry this NCT number (searched by identifier)."""
    found = httpx.get(f"{base}/ResearchStudy", params={"identifier": f"{NCT_SYSTEM}|{nct}"}, timeout=30).json()
    return [e["resource"] for e in found.get("entry", [])]


def test_conditional_mode_pushes_once_updates_in_place_and_deletes_by_the_servers_id(assigning, tmp_path):
    state = tmp_path / "sync.sqlite"
    front = FaultyFront(assigning)
    with CtgovApiServer() as api:
        first = run_conditional(api, front.url, state)
        assert first.kind == "full" and sorted(first.pushed) == list(FEW) and not first.failed
        assert not first.shared_failed and first.exit_code == 0
        assert count(assigning, "ResearchStudy") == 3
        studies = {nct: by_nct(assigning, nct) for nct in FEW}
        assert {nct: len(found) for nct, found in studies.items()} == dict.fromkeys(FEW, 1)  # exactly one each
        ids = {nct: found[0]["id"] for nct, found in studies.items()}
        assert all(ids[nct] != nct for nct in FEW)  # the server chose the ids
        with State(state, lock=False) as kept:
            refs = {key: ref for key, (_, ref, trial) in kept.hashes().items() if trial}
        assert {nct: refs[f"ResearchStudy/{nct}"] for nct in FEW} == {n: f"ResearchStudy/{i}" for n, i in ids.items()}
        # what a study refers to is where the server keeps it: its sponsor (raw leadSponsor) and its site
        hadassah = studies["NCT00973089"][0]
        assert get(assigning, hadassah["sponsor"]["reference"]).json()["name"] == "Hadassah Medical Organization"
        (site,) = hadassah["site"]
        assert get(assigning, site["reference"]).json()["name"] == "Hadassah Medical Organization"
        assert dangling(assigning, ("ResearchStudy", *SHARED_TYPES, "Group", "PlanDefinition")) == []

        # nothing changed: not one transaction
        posts = front.requests
        second = run_conditional(api, front.url, state)
        assert second.kind == "incremental" and second.pushed == [] and second.shared == 0
        assert second.unchanged == second.fetched and front.requests == posts

        # a new title (raw briefTitle + " (amended)"): the same server resource, updated
        changed = "NCT00763412"
        study = orjson.loads(orjson.dumps(api.records[changed]))
        title = "Pilot and Feasibility Study for the Treatment of Pre-diabetes in Patients With Cystic Fibrosis"
        assert study["protocolSection"]["identificationModule"]["briefTitle"] == title
        study["protocolSection"]["identificationModule"]["briefTitle"] = f"{title} (amended)"
        api.put(study)
        api.set_last_update(changed, "2026-01-15")
        api.data_timestamp = "2026-01-15T00:00:00"
        posts = front.requests
        third = run_conditional(api, front.url, state)
        assert third.pushed == [changed] and third.unchanged == third.fetched - 1 and not third.failed
        assert studies_sent(front, posts) == [changed]
        (updated,) = by_nct(assigning, changed)
        assert updated["id"] == ids[changed] and updated["title"] == f"{title} (amended)"
        assert count(assigning, "ResearchStudy") == 3

        # an intervention removed (raw: placebo and repaglinide): the placebo's PlanDefinition is deleted
        with State(state, lock=False) as kept:
            plans = {get(assigning, r).json()["title"]: r for r in kept.own_refs(changed) if r.startswith("Plan")}
        assert sorted(plans) == ["placebo", "repaglinide"]
        interventions = study["protocolSection"]["armsInterventionsModule"]["interventions"]
        assert [i["name"] for i in interventions] == ["placebo", "repaglinide"]
        del interventions[0]
        api.put(study)
        api.set_last_update(changed, "2026-01-20")
        api.data_timestamp = "2026-01-20T00:00:00"
        fourth = run_conditional(api, front.url, state)
        assert fourth.pushed == [changed] and not fourth.failed and not fourth.notes
        assert get(assigning, plans["placebo"]).status_code in (404, 410)
        assert get(assigning, plans["repaglinide"]).json()["title"] == "repaglinide"
        with State(state, lock=False) as kept:
            assert [r for r in kept.own_refs(changed) if r.startswith("Plan")] == [plans["repaglinide"]]
        assert dangling(assigning, ("ResearchStudy", *SHARED_TYPES, "Group", "PlanDefinition")) == []

        # dropped by the registry: reported, then deleted by the server's ids (the study and its Group)
        dropped = "NCT00973089"
        with State(state, lock=False) as kept:
            own = kept.own_refs(dropped)
        assert own[0] == f"ResearchStudy/{ids[dropped]}" and any(ref.startswith("Group/") for ref in own)
        assert all(get(assigning, ref).status_code == 200 for ref in own)
        api.remove(dropped)
        kept_run = run_conditional(api, front.url, state)
        assert kept_run.missing == [dropped] and kept_run.deleted == [] and len(by_nct(assigning, dropped)) == 1
        gone = run_conditional(api, front.url, state, delete_missing=True)
        assert gone.deleted == [dropped] and not gone.failed
    front.close()
    assert by_nct(assigning, dropped) == []
    assert all(get(assigning, ref).status_code in (404, 410) for ref in own)
    assert [s["id"] for s in by_nct(assigning, changed)] == [ids[changed]]
    assert count(assigning, "ResearchStudy") == 2
    # the site and sponsor stay: shared resources may serve other trials
    assert get(assigning, hadassah["sponsor"]["reference"]).status_code == 200


def test_r5_sync_sends_valid_r5_resources_and_then_nothing(assigning, tmp_path):
    """No test server validates R5 (sekmet-fhir is R4 and refuses an R5 Group; Medplum's in-memory
    repository stores what it is given, unvalidated), so what sync sent is checked by the validator."""
    state = tmp_path / "sync.sqlite"
    front = FaultyFront(assigning)
    with CtgovApiServer() as api:
        client = ApiClient(api.url, per_minute=1_000_000, backoff=0.01)
        fhir = Client(front.url, retries=2, backoff=0.01)
        query = Query(nct=",".join(FEW))
        first = sync(query, front.url, state, api_client=client, fhir_client=fhir, version="R5", out=tmp_path / "out")
        assert sorted(first.pushed) == list(FEW) and first.exit_code == 0
        for nct in FEW:  # each record posted again, as it was: read again, found unchanged, not sent
            api.set_last_update(nct, "2026-01-15")
        api.data_timestamp = "2026-01-15T00:00:00"
        posts = front.requests
        second = sync(query, front.url, state, api_client=client, fhir_client=fhir, version="R5")
        assert (second.fetched, second.unchanged, second.pushed, front.requests) == (3, 3, [], posts)
    front.close()
    sent = {e["request"]["url"]: e["resource"] for body in front.bodies for e in json.loads(body)["entry"]}
    ndjson = tmp_path / "sent.ndjson"
    ndjson.write_text("".join(json.dumps(r) + "\n" for r in sent.values()), encoding="utf-8")
    checked = subprocess.run(
        ["node", str(node_tools() / "validate.js"), "R5", str(ndjson)], capture_output=True, text=True, check=True
    )
    results = [json.loads(line) for line in checked.stdout.splitlines()]
    assert len(results) == len(sent) and [r for r in results if not r["valid"]] == []
    # raw NCT00973089: overallStatus WITHDRAWN, leadSponsor Hadassah Medical Organization: in R5 the
    # recruitment state is progressStatus (status is the record's publication status) and the sponsor
    # an associatedParty; R4's status "withdrawn" and sponsor are not there
    study = get(assigning, "ResearchStudy/NCT00973089").json()
    assert study["status"] == "active" and "sponsor" not in study
    assert [s["state"]["text"] for s in study["progressStatus"]] == ["WITHDRAWN"]
    sponsors = [p for p in study["associatedParty"] if p["role"]["coding"][0]["code"] == "lead-sponsor"]
    assert [get(assigning, p["party"]["reference"]).json()["name"] for p in sponsors] == [
        "Hadassah Medical Organization"
    ]
    written = (tmp_path / "out" / "fhir" / "R5" / "ResearchStudy.ndjson").read_text(encoding="utf-8").splitlines()
    exported = {r["id"]: r for r in map(json.loads, written)}
    held = {nct: get(assigning, f"ResearchStudy/{nct}").json() for nct in FEW}
    assert {n: {k: v for k, v in r.items() if k != "meta"} for n, r in held.items()} == exported  # as convert writes
