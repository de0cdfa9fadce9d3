"""Pushing trials to a FHIR server: transaction Bundles in batches, safely and idempotently.

Each trial travels with what its ResearchStudy refers to (Organizations, Locations, Practitioners,
PractitionerRoles, its eligibility Group, its interventions' PlanDefinitions), referred-to resources
first, so no reference dangles on a server that applies entries in order. A resource shared by many
trials (one hospital, one investigator) is sent once per run: once the server has confirmed it, later
batches only refer to it.

Idempotent: every resource is written by its stable id (``PUT ResearchStudy/<id>``), or, where the
server assigns its own ids, by a conditional update on an identifier (``--mode conditional``: the NCT
number of a study, our own identifier systems for the rest). Pushing the same trials twice creates
nothing new. Retries with backoff on 429, 5xx, timeouts and connection errors, honouring Retry-After;
a batch the server refuses as a whole is sent again trial by trial, so one bad resource fails alone and
the server's OperationOutcome says why (a refused trial sends its shared resources first, in halves until
the server takes them: some servers cap a transaction's size). A trial counts as pushed only when the
server's answer says so; one that failed is simply pushed again by the next run. The bearer token is read
from an environment variable and never printed, logged or reported (not even where a server echoes it
back). TLS certificates are verified unless ``insecure`` is asked for by name; an untrusted certificate
fails at once, with a message that says so, rather than being retried.
"""

from __future__ import annotations

import email.utils
import os
import ssl
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx

from trialport import pipeline
from trialport.fhir.build import resources
from trialport.fhir.codes import CANONICAL, NCT_SYSTEM
from trialport.model import Trial

RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
AUTH_STATUSES = {401, 403}  # the whole batch fails as one: sending it again trial by trial cannot help
REDACTED = "[token]"


class PushError(Exception):
    """A batch that could not be delivered after every retry (the message names why, never the token)."""


@dataclass
class Outcome:
    trial: str
    status: str  # created | updated | failed | planned (dry run)
    message: str = ""


@dataclass
class PushReport:
    """Per trial, what happened; per resource type, how many the server confirmed (``sent``). ``written``
    holds each shared resource confirmed this run (``Type/id`` → where the server keeps it), so that
    later batches refer to it rather than send it again: as many as there are distinct shared resources."""

    outcomes: list[Outcome] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for outcome in self.outcomes:
            found[outcome.status] = found.get(outcome.status, 0) + 1
        return found

    @property
    def exit_code(self) -> int:
        return 1 if any(o.status == "failed" for o in self.outcomes) else 0


@dataclass
class Client:
    """A FHIR server's base URL, with retries. ``sleep`` is injectable only so that waits can be skipped."""

    base_url: str
    token: str | None = None
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.5
    verify: bool = True
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"server URL must be http(s): {self.base_url!r}")
        headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.requests = 0  # POSTs made, retries included
        self.http = httpx.Client(
            base_url=self.base_url.rstrip("/") + "/", headers=headers, timeout=self.timeout, verify=self.verify
        )

    def close(self) -> None:
        self.http.close()

    def redact(self, text: str) -> str:
        """``text`` with the token cut out (servers and libraries may echo request headers back)."""
        return text.replace(self.token, REDACTED) if self.token else text

    def transaction(self, bundle: dict[str, Any]) -> httpx.Response:
        """POST a transaction Bundle; retried on 429/5xx/timeouts/connection errors, never on other 4xx."""
        problem = "no attempt"
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                response = self.http.post("", json=bundle)
            except httpx.TransportError as error:  # refused, reset, timed out
                problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                if _untrusted(error):
                    raise PushError(self.redact(f"TLS certificate not trusted: {error}")) from None
                wait = self.backoff * 2**attempt
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
                wait = _retry_after(response) or self.backoff * 2**attempt
            if attempt < self.retries:
                self.sleep(min(wait, 60.0))
        raise PushError(self.redact(f"{problem} after {self.retries + 1} attempts"))


def _untrusted(error: Exception) -> bool:
    """Whether ``error`` comes from a certificate that failed verification (no retry can fix that)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    moment = email.utils.parsedate_to_datetime(value)
    return max(0.0, moment.timestamp() - time.time()) if moment else None


# Inside a transaction, what a resource refers to comes before it: servers that apply entries in order,
# or refuse a reference to something not (yet) there, accept every batch.
ORDER = ("Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition", "ResearchStudy")
RANK = {kind: rank for rank, kind in enumerate(ORDER)}
# The first four are shared by many trials (their ids hash what makes them one thing): sent once per run.
SHARED = frozenset(ORDER[:4])
OUR_SYSTEMS = f"{CANONICAL}/sid/"  # every resource the builder makes but a study carries an identifier here

Resource = dict[str, Any]
Item = tuple[Resource, str | None]  # a resource to send, and the trial it answers for (its ResearchStudy only)


def _items(batch: list[Trial], version: str, written: dict[str, str]) -> tuple[list[Item], list[Item]]:
    """What the trials of ``batch`` need sent, in dependency order: the shared resources, each once and
    none the server has confirmed this run; then the trials' own (Groups and PlanDefinitions, as a trial's
    last record in the batch gives them, then the ResearchStudies)."""
    ranked: list[dict[str, Resource]] = [{} for _ in ORDER[:-1]]
    studies: list[Item] = []
    for trial in batch:
        study, *referred = resources(trial, version)
        studies.append((study, trial.id))
        for resource in referred:
            kind = resource["resourceType"]
            key = f"{kind}/{resource['id']}"
            rank = ranked[RANK.get(kind, len(ORDER) - 2)]  # a type not listed: just before the studies
            if kind not in SHARED or (key not in written and key not in rank):
                rank[key] = resource
    shared = [(r, None) for rank in ranked[: len(SHARED)] for r in rank.values()]
    return shared, [*((r, None) for rank in ranked[len(SHARED) :] for r in rank.values()), *studies]


@dataclass
class Answer:
    """A transaction's fate: accepted (each trial's ResearchStudy status), or why not (``refused``: the
    HTTP status of a refusal; None when it never got an answer)."""

    statuses: dict[str, str] = field(default_factory=dict)
    message: str = ""
    refused: int | None = None

    @property
    def splittable(self) -> bool:
        """Refused for what it holds: smaller parts may pass (an auth refusal will not)."""
        return self.refused is not None and self.refused not in AUTH_STATUSES


def _post(client: Client, items: list[Item], mode: str, report: PushReport, known: dict[str, str]) -> Answer:
    """One transaction of ``items``; what the server confirmed is counted and remembered (where the
    server keeps it): a shared resource in ``report.written``, so that nothing sent later this run carries
    it again; a trial's own in ``known``, for the study sent after it when a trial goes in parts."""
    keys = [f"{r['resourceType']}/{r.get('id')}" for r, _ in items]
    full_urls = {key: f"urn:uuid:{uuid5(NAMESPACE_URL, key)}" for key in keys}
    chosen = [r for r, _ in items]
    if mode == "conditional":  # the server picks the ids: refer to the entries' fullUrls, or to its own ids
        targets = ChainMap(full_urls, report.written, known)
        chosen = [_point_at(r, targets) for r in chosen]
    entries = [_entry(r, mode, full_urls[key]) for r, key in zip(chosen, keys, strict=True)]
    try:
        response = client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    except PushError as error:
        return Answer(message=str(error))
    if response.status_code >= 400:
        message = client.redact(f"HTTP {response.status_code}: {_operation_outcome(response)}")
        return Answer(message=message, refused=response.status_code)
    try:
        answers = response.json().get("entry", [])
    except (ValueError, AttributeError):
        return Answer(message=client.redact(f"HTTP {response.status_code} without a Bundle: {response.text[:200]}"))
    found = Answer()
    for key, (_, owner), answer in zip(keys, items, answers, strict=False):
        if owner is not None:
            found.statuses[owner] = _result(answer)
        if not str(answer.get("response", {}).get("status", "")).startswith("2"):
            continue
        kind = key.partition("/")[0]
        report.sent[kind] = report.sent.get(kind, 0) + 1
        if where := key if mode == "put" else _server_reference(answer, kind):
            (report.written if kind in SHARED else known)[key] = where
    return found


def _entry(resource: Resource, mode: str, full_url: str) -> dict[str, Any]:
    kind, rid = resource["resourceType"], resource["id"]
    condition = _condition(resource) if mode == "conditional" else None
    if condition is None:
        return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": f"{kind}/{rid}"}}
    system, value = condition
    resource = {k: v for k, v in resource.items() if k != "id"}
    url = f"{kind}?identifier={system}|{value}"
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": url}}


def _condition(resource: Resource) -> tuple[str, str] | None:
    """The identifier (system, value) a conditional update matches on: the NCT number of a study (none:
    written by id), an identifier in our own systems for everything else."""
    kind, identifiers = resource["resourceType"], resource.get("identifier", ())
    if kind == "ResearchStudy":
        nct = next((i["value"] for i in identifiers if i.get("system") == NCT_SYSTEM), None)
        return (NCT_SYSTEM, nct) if nct else None
    ours = next((i for i in identifiers if i.get("system", "").startswith(OUR_SYSTEMS) and i.get("value")), None)
    if ours is None:
        raise ValueError(f"{kind}/{resource['id']} has no identifier of ours to update it by")
    return ours["system"], ours["value"]


def _point_at(resource: Resource, targets: Mapping[str, str]) -> Resource:
    """``resource`` with each reference to an entry of this transaction made its fullUrl, and each to a
    resource written before made the id the server gave it (``targets``: ``Type/id`` → either)."""

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            target = value.get("reference")
            if target is not None and (found := targets.get(target)):
                return {**value, "reference": found}
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return swap(resource)


def _server_reference(answer: dict[str, Any], kind: str) -> str | None:
    """``Type/id`` of what a transaction-response entry wrote (its Location header, else its resource)."""
    location = answer.get("response", {}).get("location") or ""
    parts = location.split("/_history", 1)[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return f"{kind}/{parts[-1]}"
    rid = (answer.get("resource") or {}).get("id")
    return f"{kind}/{rid}" if rid else None


def _batches(trials: Iterable[Trial], size: int) -> Iterator[list[Trial]]:
    """Batches of ``size`` trials; a trial given twice (the same study in two inputs) starts a new one:
    a transaction may not write the same resource twice."""
    batch: list[Trial] = []
    ids: set[str] = set()
    for trial in trials:
        if trial.id in ids:
            yield batch
            batch, ids = [], set()
        batch.append(trial)
        ids.add(trial.id)
        if len(batch) == size:
            yield batch
            batch, ids = [], set()
    if batch:
        yield batch


def _send(client: Client, batch: list[Trial], version: str, mode: str, report: PushReport) -> list[Outcome]:
    """One transaction for the batch; refused for what it holds, sent again trial by trial."""
    shared, own = _items(batch, version, report.written)
    answer, _ = transact(client, shared + own, mode, report, len(batch))
    if answer.splittable and len(batch) > 1:
        return [o for trial in batch for o in _send(client, [trial], version, mode, report)]
    if answer.message:
        return [Outcome(t.id, "failed", answer.message) for t in batch]
    return [_outcome(t.id, answer.statuses.get(t.id)) for t in batch]


def transact(
    client: Client, items: list[Item], mode: str, report: PushReport, trials: int
) -> tuple[Answer, dict[str, str]]:
    """``items`` (the resources of ``trials`` trials in dependency order, the studies last) in one
    transaction, and what the server confirmed of the trials' own resources (``Type/id`` → where it
    keeps it). Refused for what it holds: several trials are left for the caller to send one by one; one
    trial goes in parts (a server may cap a transaction's size), what its study refers to first."""
    known: dict[str, str] = {}
    answer = _post(client, items, mode, report, known)
    if answer.splittable and trials == 1 and len(items) > 1:
        known = {}
        problem = in_parts(client, items[:-1], mode, report, known)
        answer = Answer(message=problem) if problem else _post(client, items[-1:], mode, report, known)
    return answer, known


def in_parts(client: Client, items: list[Item], mode: str, report: PushReport, known: dict[str, str]) -> str:
    """Send ``items`` (in dependency order) in transactions halved until the server takes them, the
    first half before the second (what the second refers to is then on the server). The server's reason
    for a resource it refuses alone, else ""."""
    answer = _post(client, items, mode, report, known)
    if not answer.splittable or len(items) == 1:
        return answer.message
    half = len(items) // 2
    first = in_parts(client, items[:half], mode, report, known)
    return first or in_parts(client, items[half:], mode, report, known)


def _outcome(trial: str, status: str | None) -> Outcome:
    """Pushed only when the server's answer says created or updated; anything else is a failure to retry."""
    if status in ("created", "updated"):
        return Outcome(trial, status)
    return Outcome(trial, "failed", status or "no answer")


def _result(answer: dict[str, Any]) -> str:
    """created or updated, from a transaction-response entry (some servers answer a create by PUT with
    200: version 1 tells it apart)."""
    code = str(answer.get("response", {}).get("status", "")).split(" ")[0]
    version = (answer.get("resource") or {}).get("meta", {}).get("versionId")
    etag = answer.get("response", {}).get("etag", "")
    if code == "201" or (code == "200" and (version == "1" or etag in ('W/"1"', '"1"'))):
        return "created"
    return "updated" if code == "200" else f"answered {code}"


def _operation_outcome(response: httpx.Response) -> str:
    try:
        issues = response.json().get("issue", [])
    except ValueError:
        return response.text[:300]
    return "; ".join(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "") for i in issues)


def push(
    paths: Iterable[str | Path],
    server: str,
    version: str = "R5",
    token_env: str | None = None,
    batch_size: int = 50,
    mode: str = "put",
    dry_run: bool = False,
    client: Client | None = None,
    insecure: bool = False,
) -> PushReport:
    """Push every trial under ``paths`` (registry records, or FHIR files exported before) to ``server``.
    ``insecure`` skips TLS certificate verification (a test server's self-signed certificate)."""
    if not server.startswith(("http://", "https://")):
        raise ValueError(f"server URL must be http(s): {server!r}")
    if mode not in ("put", "conditional"):
        raise ValueError(f"mode must be put or conditional, not {mode!r}")
    token = os.environ.get(token_env) if token_env else None
    if token_env and not token:
        raise ValueError(f"environment variable {token_env} is not set")
    report = PushReport()
    trials = pipeline.trials(paths)
    if dry_run:
        report.outcomes = [Outcome(t.id, "planned") for t in trials]
        return report
    client = client or Client(server, token=token, verify=not insecure)
    try:
        for batch in _batches(trials, batch_size):
            report.outcomes += _send(client, batch, version, mode, report)
    finally:
        client.close()
    return report
