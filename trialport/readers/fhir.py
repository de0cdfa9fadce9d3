"""Reader for FHIR ResearchStudy resources (R5, R4B or R4): one resource, a Bundle, or NDJSON.

The other resources are not trials and are passed over as such, but a study's sites, people,
eligibility criteria and interventions' details are in the Locations, PractitionerRoles, Group and
PlanDefinitions it refers to. They are looked up where the export puts them: among a Bundle's entries
(indexed as read; the export writes them before the study), and for NDJSON or a single study file in
``Location.ndjson``, ``PractitionerRole.ndjson``, ``Group.ndjson`` and ``PlanDefinition.ndjson`` beside
it. Those files are indexed (where each resource starts, not the resources) only when a study first
asks, once per file per process.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import ijson
import orjson
from pydantic import ValidationError

from trialport.fhir import read as fhir_read
from trialport.fhir.codes import R4_ONLY_ELEMENTS, XVER
from trialport.fhir.eligibility import from_characteristics
from trialport.model import Source
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256
from trialport.readers.ctgov_json import WHOLE_FILE_LIMIT

_BOM = b"\xef\xbb\xbf"


class FhirReader:
    name = "fhir"
    description = "FHIR ResearchStudy R5 / R4B / R4: a resource, a Bundle, or NDJSON (with what it refers to)"
    priority = 5  # before ctgov-json, which would take any JSON

    def sniff(self, path: Path, head: bytes) -> bool:
        start = head.lstrip(_BOM + b" \t\r\n")
        # an empty NDJSON file is a bulk file with no resources of its type (the export writes one per type)
        return (start[:1] == b"{" and b'"resourceType"' in head) or (not start and path.suffix == ".ndjson")

    def read(self, path: Path) -> Iterator[ReadResult]:
        with open(path, "rb") as handle:
            first = handle.readline()
            more = handle.read(65536).strip()  # NDJSON: the next line may start with whitespace
            handle.seek(0)
            if not first.strip() and not more:
                return  # an empty NDJSON file: nothing in it
            if more and first.strip().endswith(b"}"):  # NDJSON: one resource a line
                resolve = _beside(path, include_self=True)
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield from _resource_line(line, str(path), number, resolve)
            elif path.stat().st_size > WHOLE_FILE_LIMIT:
                yield from _large_bundle(handle, str(path))
            else:
                try:
                    document = orjson.loads(handle.read().removeprefix(_BOM))
                except orjson.JSONDecodeError as error:
                    yield Rejection(str(path), None, f"invalid JSON: {error}")
                    return
                yield from resources_in(document, str(path), _beside(path, include_self=False))


def resources_in(document: Any, path: str, resolve: Resolve | None = None) -> Iterator[ReadResult]:
    """The trials of one parsed document: a ResearchStudy, or each of a Bundle's; ``resolve`` finds
    what a lone study refers to (a Bundle's studies look among its own entries)."""
    if not isinstance(document, dict):
        yield Rejection(path, None, f"JSON {type(document).__name__} is not a FHIR resource")
    elif document.get("resourceType") == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            yield Rejection(path, None, f"Bundle.entry is a {type(entries).__name__}, not a list")
            return
        everywhere, so_far = _Entries(), _Entries()  # a study takes the latest entry before it of an id
        for entry in entries:
            everywhere.add(entry, replace=False)

        def resolve(reference: str) -> dict[str, Any] | None:
            return so_far(reference) or everywhere(reference)

        for index, entry in enumerate(entries, 1):
            so_far.add(entry)
            yield from _entry(entry, path, index, resolve)
    elif document.get("resourceType") == "ResearchStudy":
        yield study(document, path, None, resolve)
    elif document.get("resourceType") is None:
        yield Rejection(path, None, "JSON without a resourceType is not a FHIR resource")


def _entry(entry: Any, path: str, index: int, resolve: Resolve) -> Iterator[ReadResult]:
    """One Bundle entry: a ResearchStudy read, another resource passed over, anything else rejected by its index."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        yield Rejection(path, f"entry {index}", "a Bundle entry without a resource object")
    elif resource.get("resourceType") == "ResearchStudy":
        yield study(resource, path, f"entry {index}", resolve)


def _resource_line(line: bytes, path: str, number: int, resolve: Resolve) -> Iterator[ReadResult]:
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        yield Rejection(path, f"line {number}", f"invalid JSON: {error}")
        return
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        yield Rejection(path, f"line {number}", "a line without a resourceType is not a FHIR resource")
    elif document.get("resourceType") == "ResearchStudy":
        yield study(document, path, f"line {number}", resolve)


def _large_bundle(handle: IO[bytes], path: str) -> Iterator[ReadResult]:
    """A Bundle too large to parse whole, streamed: the resources a study refers to are kept as they
    pass (the export writes them before the study), the studies read as they come."""
    count, found = 0, _Entries(_REFERRED)
    try:
        for count, entry in enumerate(ijson.items(handle, "entry.item", use_float=True), 1):
            found.add(entry)
            yield from _entry(entry, path, count, found)
    except ijson.JSONError as error:
        yield Rejection(path, f"after entry {count}", f"invalid JSON: {error}")


Resolve = Callable[[str], dict[str, Any] | None]
# what reading a study needs from the resources it names
_REFERRED = ("Location", "PractitionerRole", "Group", "PlanDefinition")


def _tail(reference: str) -> str:
    """ "Location/x" of an absolute reference ("https://server/fhir/Location/x")."""
    return "/".join(reference.rsplit("/", 2)[-2:])


class _Entries:
    """A Bundle's resources by "Type/id" and by fullUrl (only the kinds in ``kinds``, when given)."""

    def __init__(self, kinds: tuple[str, ...] | None = None) -> None:
        self.kinds, self.found = kinds, {}

    def add(self, entry: Any, replace: bool = True) -> None:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            return
        kind = resource.get("resourceType")
        if kind == "ResearchStudy" or (self.kinds and kind not in self.kinds):
            return
        keys = [f"{kind}/{resource.get('id')}"]
        if isinstance(entry.get("fullUrl"), str):
            keys.append(entry["fullUrl"])
        for key in keys:
            if replace or key not in self.found:
                self.found[key] = resource

    def __call__(self, reference: str) -> dict[str, Any] | None:
        return self.found.get(reference) or self.found.get(_tail(reference))


class _NdjsonIndex:
    """Where each Location, PractitionerRole, Group and PlanDefinition of one NDJSON file starts: built
    on the first look-up, then each look-up parses one line."""

    def __init__(self, path: str) -> None:
        self.path, self.starts, self.data = path, None, b""

    def _build(self) -> dict[str, int]:
        starts: dict[str, int] = {}
        with open(self.path, "rb") as handle:
            self.data = (
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(handle.fileno()).st_size else b""
            )
        data, start, size = self.data, 0, len(self.data)
        while start < size:
            end = data.find(b"\n", start)
            end = size if end < 0 else end
            if key := _line_key(data, start, end):
                starts.setdefault(key, start)
            start = end + 1
        return starts

    def __call__(self, reference: str) -> dict[str, Any] | None:
        if self.starts is None:
            self.starts = self._build()
        start = self.starts.get(reference)
        if start is None:
            start = self.starts.get(_tail(reference))
            if start is None:
                return None
        end = self.data.find(b"\n", start)
        return orjson.loads(self.data[start : end if end >= 0 else len(self.data)])


_PREFIX = b'{"resourceType":"'
_WANTED = {kind.encode() for kind in _REFERRED}


def _line_key(data: Any, start: int, end: int) -> str | None:
    """ "Location/loc-…" of the line at ``start`` if it is one of the kinds looked up: read from the
    head the export writes (resourceType, then id) without parsing, else parsed."""
    head = data[start : min(end, start + 160)]
    if head.startswith(_PREFIX):
        kind_end = head.find(b'"', len(_PREFIX))
        if head[len(_PREFIX) : kind_end] not in _WANTED:
            return None
        if head.startswith(b'","id":"', kind_end):
            id_end = head.find(b'"', kind_end + 8)
            if id_end > 0:
                return (head[len(_PREFIX) : kind_end] + b"/" + head[kind_end + 8 : id_end]).decode()
    try:
        resource = orjson.loads(data[start:end])
    except orjson.JSONDecodeError:
        return None  # a broken line is reported when its own file is read
    if isinstance(resource, dict) and resource.get("resourceType") in _REFERRED:
        return f"{resource['resourceType']}/{resource.get('id')}"
    return None


@lru_cache(maxsize=16)
def _ndjson_index(path: str, size: int, mtime: int) -> _NdjsonIndex:
    return _NdjsonIndex(path)


def _index_of(path: Path) -> _NdjsonIndex | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _ndjson_index(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _beside(path: Path, include_self: bool) -> Resolve:
    """Look-ups in ``<Type>.ndjson`` beside ``path`` (and, for NDJSON, in ``path`` itself, last)."""
    indexes = [_index_of(path.parent / f"{kind}.ndjson") for kind in _REFERRED if path.name != f"{kind}.ndjson"]
    if include_self:
        indexes.append(_index_of(path))
    found = [index for index in indexes if index is not None]

    def resolve(reference: str) -> dict[str, Any] | None:
        for index in found:
            if (resource := index(reference)) is not None:
                return resource
        return None

    return resolve


def version_of(resource: dict[str, Any]) -> str:
    """R4B for a study shaped as R4 / R4B (the two are the same shape), else R5."""
    r4b = any(key in resource for key in R4_ONLY_ELEMENTS) or any(
        isinstance(e, dict) and str(e.get("url", "")).startswith(XVER)
        for e in (resource.get("extension") if isinstance(resource.get("extension"), list) else [])
    )
    return "R4B" if r4b else "R5"


def study(resource: dict[str, Any], path: str, record: str | None, resolve: Resolve | None = None) -> ReadResult:
    """One ResearchStudy as a Trial (or a Rejection naming it); ``resolve`` finds what it refers to."""
    fmt = f"fhir-{version_of(resource).lower()}"
    try:
        fields, nct = _fields(resource, resolve)
        source = Source(
            format=fmt, path=path, record=nct or resource.get("id") or record, sha256=sha256(orjson.dumps(resource))
        )
        trial = assemble(fields, source, nct)
        if not nct and resource.get("id"):  # a local id survives the round trip as the resource id
            trial = trial.model_copy(update={"id": resource["id"]})
        return trial
    except (ValueError, TypeError, AttributeError, KeyError, ValidationError) as error:
        local = resource.get("id")
        return Rejection(
            path,
            local if isinstance(local, str) and len(local) <= 64 else record,
            f"{type(error).__name__}: {error}".splitlines()[0],
        )


def _fields(resource: dict[str, Any], resolve: Resolve | None) -> tuple[dict[str, Any], str | None]:
    """The study's fields, and from its eligibility Group (looked up once, as they are read) the criteria
    one by one, the age limits and the sex. Criteria the Group holds come back as they are, not split
    again from the block; a Group without them leaves the block to be split as any reader's is."""
    reference = (resource.get("recruitment") or {}).get("eligibility") or next(
        iter(resource.get("enrollment") or []), None
    )
    target = reference.get("reference") if isinstance(reference, dict) else None
    if resolve is None or not isinstance(target, str):
        return fhir_read.fields(resource, resolve)
    groups: list[dict[str, Any]] = []

    def remembering(wanted: str) -> dict[str, Any] | None:
        found = resolve(wanted)
        if wanted == target and isinstance(found, dict) and found.get("resourceType") == "Group":
            groups.append(found)
        return found

    fields, nct = fhir_read.fields(resource, remembering)
    if groups and (data := from_characteristics(groups[0])):
        fields["eligibility"] = {**(fields.get("eligibility") or {}), **data}
    return fields, nct
