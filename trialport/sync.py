"""``trialport sync``: keep a FHIR server current with a ClinicalTrials.gov query, run after run (nightly).

The first run fetches the whole query, converts it and pushes everything. Every later run fetches only
the studies updated since the last complete run (the query with ``--updated-since`` the data timestamp
that run recorded), lists the NCT numbers of the whole query (``fields=NCTId``: ids only, cheap), reads
again by NCT number the trials that left the query or are not confirmed yet, converts what it read and
pushes only what changed: every resource is serialised and hashed, and compared with the hash of what
the server confirmed last time (``sync_state``). A trial goes when one of its own resources changed; a
shared one (Organization, Location, Practitioner, PractitionerRole) once, and again only when it changed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from trialport import __version__, pipeline
from trialport.ctgov_api import DEFAULT_API, ApiClient, ApiError
from trialport.fetch import FetchError, FetchReport, Query, fetch
from trialport.fhir.build import resources
from trialport.fhirclient import RANK, SHARED, Answer, Client, PushError, PushReport, in_parts, transact
from trialport.model import Trial
from trialport.readers.base import Rejection
from trialport.sync_state import State, StateLocked, now

ID_CHUNK = 200  # NCT numbers per by-id request: the URL stays short
SHARED_CHUNK = 100  # shared resources per transaction when they go on their own
VERSIONS = ("R5", "R4B", "R4")
Resource = dict[str, Any]


class SyncError(Exception):
    """A sync that stopped: what the server confirmed is kept, and the next run completes the rest."""


@dataclass
class SyncReport:
    """What a run did. ``pushed``: trials the server confirmed; ``failed``: trial (or record) → why."""

    kind: str = ""  # full | incremental
    data_timestamp: str | None = None
    fetched: int = 0  # studies read from the API
    in_query: int = 0  # NCT numbers the whole query holds
    by_id: int = 0  # trials read again by NCT number
    unchanged: int = 0
    pushed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # records the reader could not take (file, record: why)
    shared: int = 0  # shared resources pushed (new or changed)
    shared_failed: int = 0
    left: list[str] = field(default_factory=list)  # left the query this run: kept and updated
    missing: list[str] = field(default_factory=list)  # the registry no longer returns them
    deleted: list[str] = field(default_factory=list)
    requests: int = 0  # transactions POSTed to the FHIR server (retries included)
    api_requests: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    out: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.rejected or self.shared_failed else 0


def digest(resource: Resource) -> str:
    """The hash of a resource as it would be sent (keys sorted: the same content, the same hash)."""
    return hashlib.blake2b(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def key_of(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def query_ids(client: ApiClient, params: dict[str, str], page_size: int = 1000) -> set[str] | None:
    """The NCT numbers of every study of the query (``fields=NCTId``: a few bytes a study), or None when
    the server refuses ``fields``."""
    found: set[str] = set()
    token = None
    while True:
        page_params: dict[str, str | int] = {**params, "fields": "NCTId", "pageSize": page_size}
        if token:
            page_params["pageToken"] = token
        try:
            page = client.get("studies", page_params)
        except ApiError as error:
            if token is None and ": HTTP 400:" in str(error) and "fields" in str(error):
                return None
            raise
        for study in page.get("studies") or ():
            try:
                found.add(study["protocolSection"]["identificationModule"]["nctId"])
            except (KeyError, TypeError):
                raise ApiError(f"GET studies (fields=NCTId): a study without an NCT number: {study!r:.200}") from None
        token = page.get("nextPageToken")
        if not token:
            return found


@dataclass
class _Prepared:
    """One trial converted: what would be sent, and the hash of each of its own resources."""

    nct: str
    last_update: str | None
    in_query: bool
    study: Resource
    own: list[Resource]  # Groups, PlanDefinitions: the trial's alone
    shared_keys: list[str]
    hashes: dict[str, str]  # key → hash, the study and its own resources


class _Run:
    """One sync run over an open, locked state."""

    def __init__(
        self,
        state: State,
        api: ApiClient,
        fhir: Client,
        version: str,
        mode: str,
        batch_size: int,
        page_size: int,
        report: SyncReport,
    ) -> None:
        self.state, self.api, self.fhir = state, api, fhir
        self.version, self.mode, self.batch_size, self.page_size = version, mode, batch_size, page_size
        self.report = report
        self.rows = state.trials()
        self.confirmed: dict[str, str] = {}  # shared key → hash confirmed
        self.own: dict[str, dict[str, str]] = {}  # trial → {key: hash confirmed}
        self.refs: dict[str, dict[str, str]] = {}  # trial → {key: where the server keeps it}
        self.push = PushReport()  # its ``written`` holds where the server keeps each confirmed shared resource
        for key, (hashed, ref, trial) in state.hashes().items():
            if trial is None:
                self.confirmed[key] = hashed
                self.push.written[key] = ref
            else:
                self.own.setdefault(trial, {})[key] = hashed
                self.refs.setdefault(trial, {})[key] = ref
        self.changed_shared: dict[str, tuple[Resource, str]] = {}  # seen this run, not confirmed as it is now
        self.seen_shared: set[str] = set()
        self.queue: list[_Prepared] = []
        self.seen: set[str] = set()

    # -- reading and comparing -------------------------------------------------------------------------
    def read(self, path: Path, in_query: set[str] | None) -> set[str]:
        """Convert every study of ``path``, queue the trials that changed; their NCT numbers."""
        found: set[str] = set()
        for record in pipeline.read([path]):
            result = record.result
            if isinstance(result, Rejection):
                self.report.rejected.append(str(result))
                continue
            assert isinstance(result, Trial)
            found.add(result.id)
            self.report.fetched += 1
            self.take(result, in_query is None or result.id in in_query)
        self.seen |= found
        return found

    def take(self, trial: Trial, in_query: bool) -> None:
        study, *referred = resources(trial, self.version)
        own: list[Resource] = []
        shared_keys: list[str] = []
        hashes = {key_of(study): digest(study)}
        for resource in referred:
            key, hashed = key_of(resource), digest(resource)
            if resource["resourceType"] in SHARED:
                shared_keys.append(key)
                if key not in self.seen_shared:  # as the first trial of the run that names it gives it
                    self.seen_shared.add(key)
                    if self.confirmed.get(key) != hashed:
                        self.changed_shared[key] = (resource, hashed)
            else:
                own.append(resource)
                hashes[key] = hashed
        row = self.rows.get(trial.id)
        if row is not None and row.status == "pushed" and self.own.get(trial.id) == hashes:
            self.report.unchanged += 1
            return
        self.queue.append(_Prepared(trial.id, trial.dates.last_update, in_query, study, own, shared_keys, hashes))
        if len(self.queue) >= self.batch_size:
            self.flush()

    # -- pushing ---------------------------------------------------------------------------------------
    def flush(self) -> None:
        batch, self.queue = self.queue, []
        if not batch:
            return
        # pending first: a run stopped before the server answers leaves them to be read again by id
        self.state.set_trials((p.nct, "pending", p.in_query, p.last_update, None) for p in batch)
        self.send(batch)

    def send(self, batch: list[_Prepared]) -> None:
        """One transaction for the batch (the changed shared resources it refers to first); refused, sent
        again trial by trial, and a refused trial in parts (as ``push`` does)."""
        chosen = {key: None for p in batch for key in p.shared_keys if key in self.changed_shared}
        shared = sorted(chosen, key=lambda key: RANK[key.partition("/")[0]])
        for key in shared:
            self.push.written.pop(key, None)  # a changed one is sent in full, and confirmed again
        items = [(self.changed_shared[key][0], None) for key in shared]
        items += [(resource, None) for p in batch for resource in p.own]
        items += [(p.study, p.nct) for p in batch]
        answer, known = transact(self.fhir, items, self.mode, self.push, len(batch))
        if answer.splittable and len(batch) > 1:
            for prepared in batch:
                self.send([prepared])
            return
        self.record(batch, shared, answer, known)

    def record(self, batch: list[_Prepared], shared: list[str], answer: Answer, known: dict[str, str]) -> None:
        """Write down what the server confirmed, and only that; stop the run when the server is gone."""
        confirmed_shared = []
        for key in shared:
            if key in self.push.written:
                _, hashed = self.changed_shared.pop(key)
                self.confirmed[key] = hashed
                confirmed_shared.append((key, hashed, self.push.written[key]))
        pushed, failed = [], []
        for p in batch:
            status = answer.statuses.get(p.nct)
            if not answer.message and status in ("created", "updated") and all(k in known for k in p.hashes):
                own = {k: (h, known[k]) for k, h in p.hashes.items()}
                own |= self.drop_stale(p.nct, own)
                pushed.append((p.nct, p.last_update, own))
                self.own[p.nct] = {k: h for k, (h, _) in own.items()}
                self.refs[p.nct] = {k: ref for k, (_, ref) in own.items()}
                self.report.pushed.append(p.nct)
            else:
                why = answer.message or status or "no answer"
                failed.append((p.nct, "failed", p.in_query, p.last_update, why))
                self.report.failed[p.nct] = why
        self.state.confirm(confirmed_shared, pushed)
        self.state.set_trials(failed)
        self.report.shared += len(confirmed_shared)
        if answer.message and answer.refused is None:  # no answer at all, after every retry
            raise SyncError(f"FHIR server: {answer.message}")

    def send_shared(self) -> None:
        """The changed shared resources no changed trial carried (a site renamed in a record whose
        study did not change), in transactions of their own, halved until the server takes them."""
        pending = sorted(self.changed_shared, key=lambda key: RANK[key.partition("/")[0]])
        for start in range(0, len(pending), SHARED_CHUNK):
            keys = pending[start : start + SHARED_CHUNK]
            for key in keys:
                self.push.written.pop(key, None)
            problem = in_parts(self.fhir, [(self.changed_shared[k][0], None) for k in keys], self.mode, self.push, {})
            self.record([], keys, Answer(), {})
            if problem:
                self.report.notes.append(f"shared resources not confirmed: {problem}")
        self.report.shared_failed = len(self.changed_shared)

    def drop_stale(self, nct: str, own: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Delete from the server the trial's own resources it no longer has (an intervention removed:
        its PlanDefinition); those the server did not delete, kept in the state, so the trial differs
        and the next run tries again."""
        stale = {key: ref for key, ref in self.refs.get(nct, {}).items() if key not in own}
        problem = self.remove(list(stale.values())) if stale else ""
        if not problem:
            return {}
        self.report.notes.append(f"{nct}: resources it no longer has not deleted (the next run tries again): {problem}")
        return {key: (self.own[nct][key], ref) for key, ref in stale.items()}

    def remove(self, refs: list[str]) -> str:
        """DELETE ``refs`` (``Type/id`` where the server keeps them) in one transaction; why not, or ""."""
        entries = [{"request": {"method": "DELETE", "url": ref}} for ref in refs]
        try:
            response = self.fhir.transaction({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        except PushError as error:
            return f"delete: {error}"
        answers = response.json().get("entry", []) if response.status_code < 400 else []
        codes = [str(a.get("response", {}).get("status", "")).split(" ")[0] for a in answers]
        if len(codes) != len(refs) or not all(c.startswith("2") or c in ("404", "410") for c in codes):
            return self.fhir.redact(f"delete: HTTP {response.status_code}: {response.text[:200]}")
        return ""

    def delete(self, nct: str) -> None:
        """Delete the trial's own resources from the server (its shared ones may serve other trials)."""
        refs = self.state.own_refs(nct)
        if refs and (problem := self.remove(refs)):
            self.report.failed[nct] = problem
            return
        self.state.deleted(nct)
        self.report.deleted.append(nct)

    # -- the run ---------------------------------------------------------------------------------------
    def fetch(self, path: Path, query: Query) -> FetchReport:
        try:
            return fetch(path, query, page_size=self.page_size, client=self.api, restart=True)
        except FetchError as error:
            raise SyncError(f"API: {error}".split("; ", 1)[0]) from None

    def run(self, query: Query, work: Path, delete_missing: bool) -> list[Path]:
        """Fetch, compare, push; the files read (for ``--out``)."""
        state, report = self.state, self.report
        watermark = state.get("watermark")
        full = watermark is None or state.get("query") != _query_key(query) or state.get("trialport") != __version__
        ids = None
        if not full:
            try:
                ids = query_ids(self.api, query.params(), self.page_size)
            except ApiError as error:
                raise SyncError(f"API: {error}") from None
            if ids is None:
                full = True
                report.notes.append("the API refused fields=NCTId: the whole query was read to know its trials")
        report.kind = "full" if full else "incremental"
        main = work / "query.jsonl"
        assert full or watermark is not None
        fetched = self.fetch(main, query if full else replace(query, updated_since=watermark[:10]))
        report.data_timestamp = fetched.data_timestamp
        files = [main]
        self.read(main, ids)
        in_query = ids if ids is not None else set(self.seen)
        report.in_query = len(in_query)
        report.left = sorted(n for n, row in self.rows.items() if row.in_query and n not in in_query)
        wanted = sorted(
            {
                nct
                for nct, row in self.rows.items()
                if nct not in self.seen
                and (nct not in in_query or row.status != "pushed")
                and (row.status != "deleted" or nct in in_query)
            }
            | {nct for nct in in_query if nct not in self.rows and nct not in self.seen}
        )
        returned: set[str] = set()
        for number, start in enumerate(range(0, len(wanted), ID_CHUNK)):
            path = work / f"by-id-{number + 1}.jsonl"
            self.fetch(path, Query(nct=",".join(wanted[start : start + ID_CHUNK])))
            returned |= self.read(path, in_query)
            files.append(path)
        report.by_id = len(returned)
        self.flush()
        self.send_shared()
        gone = [nct for nct in wanted if nct not in returned]
        state.set_trials(
            (nct, "missing", False, None, f"not returned by the registry (by NCT number) on {now()[:10]}")
            for nct in gone
            if self.rows.get(nct) is None or self.rows[nct].status != "deleted"
        )
        report.missing = [n for n in gone if self.rows.get(n) is None or self.rows[n].status != "deleted"]
        if delete_missing:
            for nct in report.missing:
                self.delete(nct)
        state.set_in_query(in_query)
        return files


def _query_key(query: Query) -> str:
    return orjson.dumps(query.params(), option=orjson.OPT_SORT_KEYS).decode()


def sync(
    query: Query,
    server: str,
    state_path: str | Path,
    api: str = DEFAULT_API,
    version: str = "R5",
    mode: str = "put",
    token_env: str | None = None,
    delete_missing: bool = False,
    out: str | Path | None = None,
    formats: list[str] | None = None,
    batch_size: int = 50,
    page_size: int = 1000,
    api_client: ApiClient | None = None,
    fhir_client: Client | None = None,
) -> SyncReport:
    """One sync run of ``query`` to ``server``, with its state in ``state_path`` (SQLite). Raises
    SyncError when it had to stop (the API or the server gone, another sync running): what the server
    confirmed is kept in the state, and the next run completes the rest."""
    if version not in VERSIONS:
        raise ValueError(f"FHIR version must be R5, R4B or R4, not {version!r}")
    if mode not in ("put", "conditional"):
        raise ValueError(f"mode must be put or conditional, not {mode!r}")
    if query.updated_since:
        raise ValueError("--updated-since: sync works out what was updated since its last run itself")
    query.params()  # a bad query is a ValueError before anything starts
    token = os.environ.get(token_env) if token_env else None
    if token_env and not token:
        raise ValueError(f"environment variable {token_env} is not set")
    started = time.monotonic()
    report = SyncReport()
    with ExitStack() as stack:
        if api_client is None:
            api_client = stack.enter_context(closing(ApiClient(api)))
        if fhir_client is None:
            fhir_client = stack.enter_context(closing(Client(server, token=token)))
        try:
            state = stack.enter_context(State(state_path))
        except StateLocked as error:
            raise SyncError(str(error)) from None
        _check_target(state, server, version, mode)
        requests_before = fhir_client.requests
        run_id = state.begin_run()
        status, message = "interrupted", "stopped before the end (interrupted)"
        try:
            with tempfile.TemporaryDirectory(prefix="trialport-sync-") as work:
                runner = _Run(state, api_client, fhir_client, version, mode, batch_size, page_size, report)
                files = runner.run(query, Path(work), delete_missing)
                if out is not None:
                    pipeline.convert(files, out, formats, options={"fhir_version": version})
                    report.out = str(out)
            finished = {"query": _query_key(query), "trialport": __version__}
            if not report.shared_failed and not report.rejected:  # the next run reads what was updated since
                finished["watermark"] = report.data_timestamp or datetime.now(UTC).isoformat(timespec="seconds")
            if not report.exit_code:
                finished["last_success"] = now()
            state.put(**finished)
            status = "failed" if report.exit_code else "ok"
            message = "; ".join(f"{k}: {v}" for k, v in list(report.failed.items())[:3]) or None
        except Exception as error:
            status, message = (
                "failed",
                str(error) if isinstance(error, SyncError) else f"{type(error).__name__}: {error}",
            )
            raise
        finally:
            report.requests = fhir_client.requests - requests_before
            report.api_requests = api_client.requests
            report.seconds = round(time.monotonic() - started, 3)
            counts = {"kind": report.kind, "data_timestamp": report.data_timestamp, "fetched": report.fetched}
            counts |= {"pushed": len(report.pushed), "unchanged": report.unchanged, "failed": len(report.failed)}
            counts |= {"shared": report.shared, "missing": len(report.missing), "deleted": len(report.deleted)}
            state.end_run(run_id, status, message, **counts)
    return report


def _check_target(state: State, server: str, version: str, mode: str) -> None:
    """A state describes what one server holds, as one FHIR version, written one way."""
    target = {"server": server.rstrip("/"), "fhir_version": version, "mode": mode}
    recorded = {key: state.get(key) for key in target}
    if all(value is None for value in recorded.values()):
        state.put(**target)
        return
    differ = [f"{key} {recorded[key]} (not {value})" for key, value in target.items() if recorded[key] != value]
    if differ:
        raise SyncError(f"{state.path}: this state belongs to another target: {', '.join(differ)}; use another --state")


def report_lines(report: SyncReport) -> list[str]:
    """The run's report as a few lines of text."""
    lines = [
        f"{report.kind} sync: {report.fetched:,} studies read ({report.by_id:,} by NCT number), "
        f"{report.in_query:,} in the query; data as of {report.data_timestamp or 'unknown'}",
        f"{len(report.pushed):,} trials pushed, {report.unchanged:,} unchanged, {len(report.failed):,} failed; "
        f"{report.shared:,} shared resources pushed",
        f"{report.requests:,} FHIR transactions, {report.api_requests:,} API requests, {report.seconds:,.1f} s",
    ]
    if report.left:
        lines.append(f"left the query (kept, updated by NCT number): {', '.join(report.left)}")
    if report.missing:
        kept = [n for n in report.missing if n not in report.deleted]
        if report.deleted:
            lines.append(f"no longer in the registry, deleted from the server: {', '.join(report.deleted)}")
        if kept:
            lines.append(f"no longer in the registry (kept on the server; --delete-missing deletes): {', '.join(kept)}")
    lines += [f"failed: {what}: {why}" for what, why in list(report.failed.items())[:20]]
    lines += [f"rejected: {what}" for what in report.rejected[:20]]
    if len(report.failed) > 20:
        lines.append(f"... and {len(report.failed) - 20:,} more failed")
    if report.shared_failed:
        lines.append(f"{report.shared_failed:,} shared resources not confirmed: the next run sends them again")
    lines += [f"note: {note}" for note in report.notes]
    if report.out:
        lines.append(f"files of this run -> {report.out}")
    return lines


def status_lines(state_path: str | Path) -> list[str]:
    """What the state holds: the target, the trials, the last successful run, what failed last time."""
    path = Path(state_path)
    if not path.exists():
        raise SyncError(f"{path}: no such state file")
    with State(path, lock=False) as state:
        counts = state.summary()
        trials = sum(v for k, v in counts.items() if k not in ("resources", "shared resources"))
        by_status = ", ".join(
            f"{counts[s]:,} {s}" for s in ("pushed", "pending", "failed", "missing", "deleted") if counts.get(s)
        )
        lines = [
            f"state {path}: {state.get('server') or '?'} ({state.get('fhir_version')}, {state.get('mode')})",
            f"query: {_describe(state.get('query'))}",
            f"trials: {trials:,}" + (f" ({by_status})" if by_status else ""),
            f"resources confirmed: {counts['resources']:,} ({counts['shared resources']:,} shared)",
            f"last successful run: {state.get('last_success') or 'none'}",
            f"data timestamp: {state.get('watermark') or 'none'} (the next run reads what was updated since)",
        ]
        runs = state.runs(1)
        if runs:
            run = runs[0]
            lines.append(
                f"last run: #{run['id']} {run['kind'] or ''} {run['status']}, started {run['started']}, "
                f"{run['pushed']:,} pushed, {run['unchanged']:,} unchanged, {run['failed']:,} failed"
                + (f": {run['message']}" if run["message"] else "")
            )
        for nct, status, message in state.problems():
            lines.append(f"  {nct} {status}" + (f": {message}" if message else ""))
    return lines


def _describe(key: str | None) -> str:
    if not key:
        return "none yet"
    params = orjson.loads(key)
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "every study"
