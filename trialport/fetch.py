"""``trialport fetch``: studies from the ClinicalTrials.gov API v2 into JSON Lines, one study a line.

Each line is the study object exactly as the API returned it (re-serialised compactly, keys in the API's
order), so every reader of API v2 JSON reads the file. Pages go to a hidden partial file beside the
output, each one flushed to disk before a small resume file records the next page's token and how many
lines and bytes are safely written. An interrupted fetch (Ctrl-C, a kill, a network that gave up) is
simply run again: it cuts the partial file back to what the resume file vouches for (never a half line),
checks every line, and continues from the recorded token; no study is written twice. The finished file
appears in one rename, so the output is never half-written.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from trialport.atomic import write_bytes
from trialport.ctgov_api import DEFAULT_API, ApiClient, ApiError

MAX_PAGE_SIZE = 1000  # the API coerces anything larger down to this
STATUSES = frozenset(
    "ACTIVE_NOT_RECRUITING COMPLETED ENROLLING_BY_INVITATION NOT_YET_RECRUITING RECRUITING SUSPENDED TERMINATED "
    "WITHDRAWN AVAILABLE NO_LONGER_AVAILABLE TEMPORARILY_NOT_AVAILABLE APPROVED_FOR_MARKETING WITHHELD UNKNOWN".split()
)
_NCT = re.compile(r"^[Nn][Cc][Tt]0*[1-9]\d{0,7}$")  # the API's own pattern for filter.ids
_NEAR = re.compile(r"^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?(?:km|mi))$")
_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_LIST_SPLIT = re.compile(r"[,|]")


class FetchError(Exception):
    """A fetch that stopped: what was written so far is kept, and running it again resumes it."""


@dataclass(frozen=True)
class Query:
    """The API's own query vocabulary, option by option (``None``: not asked for)."""

    cond: str | None = None
    term: str | None = None
    intr: str | None = None
    locn: str | None = None
    titles: str | None = None
    spons: str | None = None
    status: str | None = None  # comma-separated overall statuses
    nct: str | None = None  # comma-separated NCT numbers
    near: str | None = None  # LAT,LON,DISTANCE with km or mi
    updated_since: str | None = None  # a date: last update posted on or after it
    advanced: str | None = None  # raw filter.advanced (Essie expression)

    def params(self) -> dict[str, str]:
        """The ``/studies`` parameters; ValueError (naming the option) for a value the API would refuse."""
        found: dict[str, str] = {}
        for name in ("cond", "term", "intr", "locn", "titles", "spons"):
            value = getattr(self, name)
            if value is not None and value.strip():
                found[f"query.{name}"] = value.strip()
        if self.status:
            statuses = [s.strip().upper() for s in _LIST_SPLIT.split(self.status) if s.strip()]
            unknown = [s for s in statuses if s not in STATUSES]
            if unknown:
                raise ValueError(
                    f"--status: unknown status {', '.join(unknown)} (one of {', '.join(sorted(STATUSES))})"
                )
            found["filter.overallStatus"] = ",".join(statuses)
        if self.nct:
            ids = [i.strip().upper() for i in _LIST_SPLIT.split(self.nct) if i.strip()]
            bad = [i for i in ids if not _NCT.match(i)]
            if bad:
                raise ValueError(f"--nct: not an NCT number: {', '.join(bad)}")
            found["filter.ids"] = ",".join(ids)
        if self.near:
            match = _NEAR.match(self.near.replace(" ", ""))
            if not match:
                raise ValueError(f"--near: {self.near!r} is not LAT,LON,DISTANCE (e.g. 39.0035707,-77.1013313,50mi)")
            lat, lon, distance = match.groups()
            if not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
                raise ValueError(f"--near: {lat},{lon} is not a latitude,longitude")
            found["filter.geo"] = f"distance({lat},{lon},{distance})"
        clauses = []
        if self.updated_since:
            if not _DATE.match(self.updated_since.strip()):
                raise ValueError(f"--updated-since: {self.updated_since!r} is not a date (YYYY-MM-DD)")
            clauses.append(f"AREA[LastUpdatePostDate]RANGE[{self.updated_since.strip()},MAX]")
        if self.advanced and self.advanced.strip():
            advanced = self.advanced.strip()
            clauses.append(f"({advanced})" if clauses else advanced)
        if clauses:
            found["filter.advanced"] = " AND ".join(clauses)
        return found


@dataclass
class FetchReport:
    """What a fetch did: ``studies`` lines in the finished file, ``resumed`` of them written by earlier runs."""

    out: str
    api: str
    query: dict[str, str]
    data_timestamp: str | None = None
    api_version: str | None = None
    total_count: int | None = None
    studies: int = 0
    resumed: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["dataTimestamp"] = found.pop("data_timestamp")
        found["apiVersion"] = found.pop("api_version")
        found["totalCount"] = found.pop("total_count")
        return found


def partial_path(out: Path) -> Path:
    """Where the pages go until the fetch is complete (hidden: readers and ``convert`` pass it over)."""
    return out.with_name(f".{out.name}.part")


def resume_path(out: Path) -> Path:
    """The resume file: the next page's token, and the lines and bytes of the partial file it vouches for."""
    return out.with_name(f".{out.name}.resume.json")


def fetch(
    out: str | Path,
    query: Query | None = None,
    api: str = DEFAULT_API,
    page_size: int = MAX_PAGE_SIZE,
    client: ApiClient | None = None,
    restart: bool = False,
    on_page: Callable[[int, int | None], None] | None = None,
) -> FetchReport:
    """Fetch every study matching ``query`` (all of them when it is empty) into ``out`` (JSON Lines).
    Resumes an earlier, interrupted fetch of the same query into the same file unless ``restart``.
    ``on_page(lines written, totalCount)`` is called after each page is safely on disk."""
    out = Path(out)
    params = (query or Query()).params()
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be 1 to {MAX_PAGE_SIZE}, not {page_size}")
    own_client = client is None
    client = client or ApiClient(api)
    report = FetchReport(out=str(out), api=client.base_url, query=params)
    started = time.monotonic()
    try:
        _run(out, params, page_size, client, restart, on_page, report)
    except ApiError as error:
        raise FetchError(f"{error}; {report.studies:,} studies kept: run the same fetch again to resume") from None
    finally:
        report.requests, report.retries = client.requests, client.retried
        report.seconds = round(time.monotonic() - started, 3)
        if own_client:
            client.close()
    return report


def _run(
    out: Path,
    params: dict[str, str],
    page_size: int,
    client: ApiClient,
    restart: bool,
    on_page: Callable[[int, int | None], None] | None,
    report: FetchReport,
) -> None:
    version = client.get("version")
    report.data_timestamp = version.get("dataTimestamp")
    report.api_version = version.get("apiVersion")
    part, state_file = partial_path(out), resume_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = None if restart else _load_state(state_file, params)
    seen: set[str] = set()
    if state is not None and part.exists():
        handle = _reopen(part, state, seen)
        token, report.resumed, report.total_count = state["next"], state["lines"], state.get("totalCount")
        if state.get("dataTimestamp") != report.data_timestamp:
            report.notes.append(
                f"the registry was refreshed between the parts of this fetch ({state.get('dataTimestamp')} "
                f"then {report.data_timestamp}): studies updated in between may be in their earlier form"
            )
    else:
        handle = open(part, "wb")  # noqa: SIM115  (closed below)
        token = None
    lines = report.studies = report.resumed
    finished = state is not None and part.exists() and state["next"] is None  # stopped just before the rename
    try:
        while not finished:
            page_params: dict[str, str | int] = {**params, "pageSize": page_size}
            if token:
                page_params["pageToken"] = token
            else:
                page_params["countTotal"] = "true"
            page = client.get("studies", page_params)
            studies = page.get("studies")
            if not isinstance(studies, list):
                raise ApiError(f"GET studies: a page without a studies list (keys: {', '.join(page)})")
            if not token and isinstance(page.get("totalCount"), int):
                report.total_count = page["totalCount"]
            chunk = bytearray()
            for study in studies:
                nct = _nct_id(study)
                if nct is not None:
                    if nct in seen:
                        report.duplicates += 1
                        continue
                    seen.add(nct)
                chunk += orjson.dumps(study)
                chunk += b"\n"
                lines += 1
            handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            token = page.get("nextPageToken") or None
            report.pages += 1
            report.studies = lines
            _save_state(state_file, params, token, lines, handle.tell(), report)
            if on_page:
                on_page(lines, report.total_count)
            finished = token is None
    finally:
        handle.close()
    os.replace(part, out)
    state_file.unlink(missing_ok=True)


def _nct_id(study: Any) -> str | None:
    try:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return nct if isinstance(nct, str) else None


def _load_state(state_file: Path, params: dict[str, str]) -> dict[str, Any] | None:
    if not state_file.exists():
        return None
    try:
        state = orjson.loads(state_file.read_bytes())
        int(state["lines"]), int(state["bytes"]), state["next"]  # the shape of a resume file
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise FetchError(
            f"{state_file}: not a resume file trialport wrote; remove it, or fetch with --restart"
        ) from None
    if state.get("query") != params:
        raise FetchError(
            f"{state_file}: an unfinished fetch of another query ({_describe(state.get('query'))}) is in this file: "
            "run that query again to finish it, or fetch with --restart"
        )
    return state


def _reopen(part: Path, state: dict[str, Any], seen: set[str]) -> IO[bytes]:
    """The partial file cut back to the lines the resume file vouches for (a page written after the
    resume file was not is fetched again), each line checked; ``seen`` gets their NCT numbers."""
    size, lines = int(state["bytes"]), int(state["lines"])
    if part.stat().st_size < size:
        raise FetchError(f"{part}: shorter than its resume file records ({size:,} bytes): fetch with --restart")
    handle = open(part, "r+b")  # noqa: SIM115  (returned open)
    try:
        handle.truncate(size)
        handle.seek(0)
        found = 0
        for number, line in enumerate(handle, 1):
            try:
                study = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise FetchError(f"{part}: line {number} is not a whole study: fetch with --restart") from None
            if (nct := _nct_id(study)) is not None:
                seen.add(nct)
            found = number
        if found != lines:
            raise FetchError(f"{part}: {found:,} lines where the resume file records {lines:,}: fetch with --restart")
        handle.seek(size)
    except BaseException:
        handle.close()
        raise
    return handle


def _save_state(
    state_file: Path, params: dict[str, str], token: str | None, lines: int, size: int, report: FetchReport
) -> None:
    state = {
        "query": params,
        "next": token,
        "lines": lines,
        "bytes": size,
        "totalCount": report.total_count,
        "dataTimestamp": report.data_timestamp,
    }
    write_bytes(state_file, orjson.dumps(state, option=orjson.OPT_INDENT_2) + b"\n")


def _describe(params: Any) -> str:
    if not isinstance(params, dict) or not params:
        return "every study"
    return ", ".join(f"{k}={v}" for k, v in params.items())


def report_lines(report: FetchReport) -> list[str]:
    """The run's report as a few lines of text."""
    total = f" of {report.total_count:,}" if report.total_count is not None else ""
    resumed = f" ({report.resumed:,} from an earlier run)" if report.resumed else ""
    found = [
        f"{report.studies:,}{total} studies -> {report.out}{resumed}",
        f"data as of {report.data_timestamp or 'unknown'} (API {report.api_version or 'unknown'}, {report.api})",
        f"{report.pages:,} pages, {report.requests:,} requests, {report.retries:,} retries, {report.seconds:,.1f} s",
    ]
    if report.duplicates:
        found.append(f"{report.duplicates:,} studies the API sent twice were written once")
    found += [f"note: {note}" for note in report.notes]
    return found
