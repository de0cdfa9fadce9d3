"""A stand-in for the ClinicalTrials.gov API v2, serving the real records in tests/data/ctgov over HTTP.

A real HTTP server on 127.0.0.1 (``http.server`` in a thread) that answers ``GET /api/v2/version`` and
``GET /api/v2/studies`` the way the API does: pages ``{"studies": [...], "nextPageToken": ..., "totalCount": ...}``
(``totalCount`` on the first page when ``countTotal=true``), ``pageSize`` (default 10, coerced down to 1,000),
an opaque ``pageToken`` that belongs to one query, and 400 for a parameter it does not know. Implemented
filters: ``filter.ids``, ``filter.overallStatus``, ``filter.geo`` (distance to a site's geoPoint),
``filter.advanced`` (``AREA[LastUpdatePostDate]RANGE[lo,hi]`` clauses joined by AND), and the ``query.*``
searches as case-insensitive substrings (``query.cond``: of a condition; ``query.term``: of the whole
record). A parameter the API knows but this stand-in does not implement is refused with 400 too, so that
no test passes by a filter silently ignored.

Faults on demand, by the number of the ``/studies`` request (1-based, retries included): ``"429"`` (with
``Retry-After``), ``"503"``, ``"drop"`` (the connection closed halfway through the page), ``"reset"``
(closed before any answer), ``"slow"`` (the page sent after ``delay`` seconds). Every request is recorded
(time, path, parameters, status). Records can be changed between runs (``set_status``,
``set_last_update``, ``remove``, ``put``) for tests of incremental updates.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from conftest import v2_studies

STATUSES = frozenset(
    "ACTIVE_NOT_RECRUITING COMPLETED ENROLLING_BY_INVITATION NOT_YET_RECRUITING RECRUITING SUSPENDED TERMINATED "
    "WITHDRAWN AVAILABLE NO_LONGER_AVAILABLE TEMPORARILY_NOT_AVAILABLE APPROVED_FOR_MARKETING WITHHELD UNKNOWN".split()
)
IMPLEMENTED = frozenset(
    {"format", "countTotal", "pageSize", "pageToken", "fields", "filter.ids", "filter.overallStatus", "filter.geo"}
    | {"filter.advanced", "query.cond", "query.term", "query.intr", "query.locn", "query.titles", "query.spons"}
)
KNOWN = IMPLEMENTED | {  # the API's other /studies parameters: known there, refused here (not implemented)
    "markupFormat", "query.outc", "query.lead", "query.id", "query.patient", "filter.synonyms",
    "postFilter.overallStatus", "postFilter.geo", "postFilter.ids", "postFilter.advanced", "postFilter.synonyms",
    "aggFilters", "geoDecay", "sort",
}  # fmt: skip
PAGING = frozenset({"countTotal", "pageSize", "pageToken"})  # may change from page to page
_GEO = re.compile(r"^distance\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(km|mi)?\)$")
_RANGE = re.compile(
    r"^AREA\[LastUpdatePostDate\]RANGE\[\s*(MIN|\d{4}(?:-\d\d){0,2})\s*,\s*(MAX|\d{4}(?:-\d\d){0,2})\s*\]$"
)
_NCT = re.compile(r"^[Nn][Cc][Tt]0*([1-9]\d{0,7})$")
FAULTS = frozenset({"429", "503", "drop", "reset", "slow"})


class Refused(Exception):
    """A request the API answers with 400 (the message is the body)."""


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    at: float  # time.monotonic()
    path: str
    params: dict[str, str]
    status: int  # 0: the connection was dropped without an answer


@functools.cache
def _real_studies() -> tuple[dict[str, Any], ...]:
    """The real API v2 records of tests/data/ctgov, read once (each server copies them)."""
    return tuple(v2_studies())


def nct_id(study: dict[str, Any]) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


class CtgovApiServer:
    """``with CtgovApiServer() as api: fetch(..., api=api.url)``; ``api.requests`` lists what it received."""

    def __init__(
        self,
        studies: Iterable[dict[str, Any]] | None = None,
        data_timestamp: str | None = None,
        serves_fields: bool = True,
    ) -> None:
        self.serves_fields = serves_fields  # False: refuse fields=NCTId, as an API without it would
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = {}
        for study in _real_studies() if studies is None else studies:
            self.put(study)
        # the registry's data is at least as new as its newest record's last update
        newest = max((_last_update(s) for s in self.records.values()), default="")
        self.data_timestamp = data_timestamp or f"{newest}T00:00:00"
        self.api_version = "2.0.5"
        self.requests: list[Seen] = []
        self.faults: dict[int, str] = {}
        self.retry_after = 1.0
        self.delay = 1.0
        self.studies_requests = 0
        self.url = ""
        self._server: ThreadingHTTPServer | None = None

    # -- the records -----------------------------------------------------------------------------------
    def ids(self) -> list[str]:
        """The NCT numbers served, in the order the server pages them."""
        with self.lock:
            return list(self.records)

    def put(self, study: dict[str, Any]) -> None:
        """Add a study, or replace the one with its NCT number (keeping its place)."""
        with self.lock:
            self.records[nct_id(study)] = orjson.loads(orjson.dumps(study))  # a copy of its own

    def remove(self, nct: str) -> None:
        with self.lock:
            del self.records[nct]

    def set_status(self, nct: str, status: str) -> None:
        with self.lock:
            self.records[nct]["protocolSection"]["statusModule"]["overallStatus"] = status

    def set_last_update(self, nct: str, date: str) -> None:
        with self.lock:
            module = self.records[nct]["protocolSection"]["statusModule"]
            module["lastUpdatePostDateStruct"] = {**module.get("lastUpdatePostDateStruct", {}), "date": date}

    # -- faults and what was seen ----------------------------------------------------------------------
    def inject(self, fault: str, requests: Iterable[int], retry_after: float = 1.0, delay: float = 1.0) -> None:
        """Answer the ``/studies`` requests numbered ``requests`` with ``fault``. They are counted from the server's
        start, retries included: ``api.studies_requests + 2`` is the second request from now."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}: one of {', '.join(sorted(FAULTS))}")
        self.retry_after, self.delay = retry_after, delay
        for number in requests:
            self.faults[number] = fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def seen(self, path: str = "/studies") -> list[Seen]:
        """The requests received for ``path`` (under /api/v2), in order."""
        return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------------------------------
    def __enter__(self) -> CtgovApiServer:
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/v2"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, path: str, query: str, arrived: float) -> tuple[int, bytes, dict[str, str], str | None]:
        """(status, body, headers, fault) for one request (``arrived``: when, by time.monotonic); records it."""
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        fault = None
        try:
            if path == "/version":
                body = orjson.dumps({"apiVersion": self.api_version, "dataTimestamp": self.data_timestamp})
            elif path == "/studies":
                with self.lock:
                    self.studies_requests += 1
                    fault = self.faults.get(self.studies_requests)
                if len(params) != len(pairs):
                    raise Refused("a parameter is given more than once")
                body = self.page(params)
            else:
                return self._record(arrived, path, params, 404, b"Not found", {}, None)
        except Refused as refusal:
            return self._record(arrived, path, params, 400, str(refusal).encode(), {}, None)
        if fault == "429":
            headers = {"Retry-After": f"{self.retry_after:g}"}
            return self._record(arrived, path, params, 429, b"Too many requests", headers, None)
        if fault == "503":
            return self._record(arrived, path, params, 503, b"Service unavailable", {}, None)
        return self._record(arrived, path, params, 200, body, {"Content-Type": "application/json"}, fault)

    def _record(self, arrived: float, path: str, params: dict[str, str], status: int, body: bytes, headers, fault):
        shown = 0 if fault in ("drop", "reset") else status
        self.requests.append(Seen(arrived, path, params, shown))
        return status, body, headers, fault

    def page(self, params: dict[str, str]) -> bytes:
        unknown = sorted(set(params) - KNOWN)
        if unknown:
            raise Refused(f"unknown parameter: {', '.join(unknown)}")
        missing = sorted(set(params) - IMPLEMENTED)
        if missing:
            raise Refused(f"parameter not implemented by the test server: {', '.join(missing)}")
        if params.get("format", "json") != "json":
            raise Refused("only format=json is served")
        size = _page_size(params.get("pageSize", "10"))
        if params.get("countTotal", "false") not in ("true", "false"):
            raise Refused("countTotal must be true or false")
        if "fields" in params and not self.serves_fields:
            raise Refused("parameter not implemented by the test server: fields")
        if params.get("fields", "NCTId") != "NCTId":
            raise Refused(f"fields: only NCTId is served, not {params['fields']!r}")
        query = {k: v for k, v in sorted(params.items()) if k not in PAGING}
        signature = hashlib.sha256(orjson.dumps(query)).hexdigest()[:12]
        start = 0
        if "pageToken" in params:
            start = _read_token(params["pageToken"], signature)
        keep = _matcher(query)
        with self.lock:  # serialised under the lock: a record changed by a test is never half-served
            found = [s for s in self.records.values() if keep(s)]
            page: dict[str, Any] = {"studies": found[start : start + size]}
            if "fields" in params:  # each study cut down to its NCT number, as the API answers
                page["studies"] = [
                    {"protocolSection": {"identificationModule": {"nctId": nct_id(s)}}} for s in page["studies"]
                ]
            if start + size < len(found):
                page["nextPageToken"] = _token(start + size, signature)
            if "pageToken" not in params and params.get("countTotal") == "true":
                page["totalCount"] = len(found)
            return orjson.dumps(page)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a timed-out request, a dropped connection) is part of the tests, not an error."""


def _handler(server: CtgovApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            arrived = time.monotonic()
            parts = urlsplit(self.path)
            if not parts.path.startswith("/api/v2/"):
                status, body, headers, fault = 404, b"Not found", {}, None
            else:
                status, body, headers, fault = server.answer(parts.path[len("/api/v2") :], parts.query, arrived)
            if fault == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "slow":
                time.sleep(server.delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault == "drop":  # half the page, then the connection is gone
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

    return Handler


def _only_id(study: dict[str, Any]) -> dict[str, Any]:
    return {"protocolSection": {"identificationModule": {"nctId": nct_id(study)}}}


def _page_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise Refused(f"pageSize must be an integer, not {value!r}") from None
    if size < 0:
        raise Refused("pageSize must be 0 or more")
    return min(size or 10, 1000)


def _token(offset: int, signature: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{signature}".encode()).decode().rstrip("=")


def _read_token(token: str, signature: str) -> int:
    try:
        offset, owner = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        start = int(offset)
    except ValueError:
        raise Refused(f"invalid pageToken {token!r}") from None
    if owner != signature:
        raise Refused("pageToken belongs to another query: every page must have the first page's parameters")
    return start


def _last_update(study: dict[str, Any]) -> str:
    return study["protocolSection"]["statusModule"].get("lastUpdatePostDateStruct", {}).get("date", "")


def _split(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,|]", value) if v.strip()]


def _matcher(query: dict[str, str]):
    """A predicate over studies for the query parameters (400 for a value the API would refuse)."""
    tests = []
    if "filter.ids" in query:
        wanted = set()
        for value in _split(query["filter.ids"]):
            match = _NCT.match(value)
            if not match:
                raise Refused(f"filter.ids: invalid NCT ID {value!r}")
            wanted.add(f"NCT{int(match.group(1)):08d}")
        tests.append(lambda s: nct_id(s) in wanted)
    if "filter.overallStatus" in query:
        statuses = set(_split(query["filter.overallStatus"]))
        if statuses - STATUSES:
            raise Refused(f"filter.overallStatus: unknown {', '.join(sorted(statuses - STATUSES))}")
        tests.append(lambda s: s["protocolSection"]["statusModule"].get("overallStatus") in statuses)
    if "filter.geo" in query:
        match = _GEO.match(query["filter.geo"])
        if not match:
            raise Refused(f"filter.geo: {query['filter.geo']!r} is not distance(lat,lon,distance)")
        lat, lon, distance = float(match.group(1)), float(match.group(2)), float(match.group(3))
        radius = distance * (1.609344 if match.group(4) != "km" else 1.0)
        tests.append(lambda s: any(_km(lat, lon, p) <= radius for p in _geo_points(s)))
    if "filter.advanced" in query:
        ranges = []
        for clause in query["filter.advanced"].split(" AND "):
            match = _RANGE.match(clause.strip().removeprefix("(").removesuffix(")").strip())
            if not match:
                raise Refused(f"filter.advanced: the test server only knows AREA[LastUpdatePostDate]RANGE: {clause!r}")
            ranges.append((match.group(1), match.group(2)))
        tests.append(lambda s: all(_in_range(_last_update(s), lo, hi) for lo, hi in ranges))
    fields = {
        "query.cond": lambda s: s["protocolSection"].get("conditionsModule", {}).get("conditions", []),
        "query.titles": lambda s: [
            s["protocolSection"]["identificationModule"].get(k, "") for k in ("briefTitle", "officialTitle", "acronym")
        ],
        "query.intr": lambda s: [
            " ".join([i.get("name", ""), *i.get("otherNames", [])])
            for i in s["protocolSection"].get("armsInterventionsModule", {}).get("interventions", [])
        ],
        "query.spons": lambda s: [
            o.get("name", "")
            for o in (
                s["protocolSection"].get("sponsorCollaboratorsModule", {}).get("leadSponsor", {}),
                *s["protocolSection"].get("sponsorCollaboratorsModule", {}).get("collaborators", []),
            )
        ],
        "query.locn": lambda s: [
            " ".join(str(site.get(k, "")) for k in ("facility", "city", "state", "country"))
            for site in s["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        ],
        "query.term": lambda s: [orjson.dumps(s).decode()],
    }
    for name, texts in fields.items():
        if name in query:
            needle = query[name].casefold()
            tests.append(lambda s, texts=texts, needle=needle: any(needle in t.casefold() for t in texts(s)))
    return lambda study: all(test(study) for test in tests)


def _in_range(date: str, lo: str, hi: str) -> bool:
    if not date:
        return False
    return (lo == "MIN" or date >= lo) and (hi == "MAX" or date[: len(hi)] <= hi)


def _geo_points(study: dict[str, Any]) -> list[tuple[float, float]]:
    sites = study["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
    return [(site["geoPoint"]["lat"], site["geoPoint"]["lon"]) for site in sites if "geoPoint" in site]


def _km(lat: float, lon: float, point: tuple[float, float]) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat), math.radians(point[0])
    dp, dl = p2 - p1, math.radians(point[1] - lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))
