"""Pushing trials to a FHIR server: transaction Bundles in batches, safely and idempotently.

Idempotent: every resource is written by its stable id (``PUT ResearchStudy/<id>``), or, where the
server assigns its own ids, by a conditional update on the NCT identifier (``--mode conditional``).
Pushing the same trials twice creates nothing new. Retries with backoff on 429, 5xx, timeouts and
connection errors, honouring Retry-After; a batch the server refuses as a whole is sent again trial by
trial, so one bad resource fails alone and the server's OperationOutcome says why. A trial counts as pushed
only when the server's answer says so; one that failed is simply pushed again by the next run. The bearer
token is read from an environment variable and never printed, logged or reported (not even where a server
echoes it back). TLS certificates are verified unless ``insecure`` is asked for by name; an untrusted
certificate fails at once, with a message that says so, rather than being retried.
"""

from __future__ import annotations

import email.utils
import os
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx

from trialport import pipeline
from trialport.fhir.build import resources
from trialport.fhir.codes import NCT_SYSTEM, ORGANIZATION_ID_SYSTEM
from trialport.model import Trial

ORGANIZATION_SYSTEM = ORGANIZATION_ID_SYSTEM
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
    outcomes: list[Outcome] = field(default_factory=list)

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


def _entries(trial: Trial, version: str, mode: str) -> list[dict[str, Any]]:
    """The transaction entries that upsert one trial's resources."""
    found = []
    study, *organizations = resources(trial, version)
    full_urls = {}
    for resource in organizations:
        resource = {**resource, "identifier": [{"system": ORGANIZATION_SYSTEM, "value": resource["id"]}]}
        full_urls[f"Organization/{resource['id']}"] = f"urn:uuid:{uuid5(NAMESPACE_URL, resource['id'])}"
        found.append(_entry(resource, mode, f"identifier={ORGANIZATION_SYSTEM}|{resource['id']}"))
    nct = next((i["value"] for i in study.get("identifier", []) if i.get("system") == NCT_SYSTEM), None)
    if mode == "conditional":
        study = _point_at(study, full_urls)  # the server picks the ids: refer to the entries' fullUrls
    found.insert(0, _entry(study, mode if nct else "put", f"identifier={NCT_SYSTEM}|{nct}"))
    return found


def _entry(resource: dict[str, Any], mode: str, condition: str) -> dict[str, Any]:
    kind, rid = resource["resourceType"], resource["id"]
    full_url = f"urn:uuid:{uuid5(NAMESPACE_URL, rid if kind == 'Organization' else f'{kind}/{rid}')}"
    if mode == "conditional":
        resource = {k: v for k, v in resource.items() if k != "id"}
        return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": f"{kind}?{condition}"}}
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": f"{kind}/{rid}"}}


def _point_at(study: dict[str, Any], full_urls: dict[str, str]) -> dict[str, Any]:
    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("reference") in full_urls:
                return {**value, "reference": full_urls[value["reference"]]}
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return swap(study)


def _batches(trials: Iterable[Trial], size: int) -> Iterator[list[Trial]]:
    batch: list[Trial] = []
    for trial in trials:
        batch.append(trial)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _send(client: Client, batch: list[Trial], version: str, mode: str) -> list[Outcome]:
    entries, owners = [], []
    for trial in batch:
        for entry in _entries(trial, version, mode):
            entries.append(entry)
            owners.append(trial.id)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    try:
        response = client.transaction(bundle)
    except PushError as error:
        return [Outcome(t.id, "failed", str(error)) for t in batch]
    if response.status_code >= 400:
        if len(batch) > 1 and response.status_code not in AUTH_STATUSES:  # find the trial the server refuses
            return [o for trial in batch for o in _send(client, [trial], version, mode)]
        message = client.redact(f"HTTP {response.status_code}: {_operation_outcome(response)}")
        return [Outcome(t.id, "failed", message) for t in batch]
    try:
        answers = response.json().get("entry", [])
    except (ValueError, AttributeError):
        message = client.redact(f"HTTP {response.status_code} without a Bundle: {response.text[:200]}")
        return [Outcome(t.id, "failed", message) for t in batch]
    statuses: dict[str, str] = {}
    for owner, entry, answer in zip(owners, entries, answers, strict=False):
        if entry["resource"]["resourceType"] == "ResearchStudy":
            statuses[owner] = _result(answer)
    return [_outcome(t.id, statuses.get(t.id)) for t in batch]


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
            report.outcomes += _send(client, batch, version, mode)
    finally:
        client.close()
    return report
