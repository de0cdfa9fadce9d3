"""Reader for FHIR ResearchStudy resources (R5 or R4B): one resource, a Bundle, or NDJSON.

The other resources a Bundle or NDJSON holds (the Organizations a study references) are not trials
and are passed over; sponsor and collaborator names travel on the study itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson
from pydantic import ValidationError

from trialport.fhir import read as fhir_read
from trialport.fhir.codes import XVER
from trialport.model import Source
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256
from trialport.readers.ctgov_json import WHOLE_FILE_LIMIT

_BOM = b"\xef\xbb\xbf"


class FhirReader:
    name = "fhir"
    description = "FHIR ResearchStudy R5 / R4B: a resource, a Bundle, or NDJSON"
    priority = 5  # before ctgov-json, which would take any JSON

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip(_BOM + b" \t\r\n")[:1] == b"{" and b'"resourceType"' in head

    def read(self, path: Path) -> Iterator[ReadResult]:
        with open(path, "rb") as handle:
            first = handle.readline()
            more = handle.read(65536).strip()  # NDJSON: the next line may start with whitespace
            handle.seek(0)
            if more and first.strip().endswith(b"}"):  # NDJSON: one resource a line
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield from _resource_line(line, str(path), number)
            elif path.stat().st_size > WHOLE_FILE_LIMIT:
                yield from _large_bundle(handle, str(path))
            else:
                try:
                    document = orjson.loads(handle.read().removeprefix(_BOM))
                except orjson.JSONDecodeError as error:
                    yield Rejection(str(path), None, f"invalid JSON: {error}")
                    return
                yield from resources_in(document, str(path))


def resources_in(document: Any, path: str) -> Iterator[ReadResult]:
    if not isinstance(document, dict):
        yield Rejection(path, None, f"JSON {type(document).__name__} is not a FHIR resource")
    elif document.get("resourceType") == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            yield Rejection(path, None, f"Bundle.entry is a {type(entries).__name__}, not a list")
            return
        for index, entry in enumerate(entries, 1):
            yield from _entry(entry, path, index)
    elif document.get("resourceType") == "ResearchStudy":
        yield study(document, path, None)
    elif document.get("resourceType") is None:
        yield Rejection(path, None, "JSON without a resourceType is not a FHIR resource")


def _entry(entry: Any, path: str, index: int) -> Iterator[ReadResult]:
    """One Bundle entry: a ResearchStudy read, another resource passed over, anything else rejected by its index."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        yield Rejection(path, f"entry {index}", "a Bundle entry without a resource object")
    elif resource.get("resourceType") == "ResearchStudy":
        yield study(resource, path, f"entry {index}")


def _resource_line(line: bytes, path: str, number: int) -> Iterator[ReadResult]:
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        yield Rejection(path, f"line {number}", f"invalid JSON: {error}")
        return
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        yield Rejection(path, f"line {number}", "a line without a resourceType is not a FHIR resource")
    elif document.get("resourceType") == "ResearchStudy":
        yield study(document, path, f"line {number}")


def _large_bundle(handle: IO[bytes], path: str) -> Iterator[ReadResult]:
    count = 0
    try:
        for count, entry in enumerate(ijson.items(handle, "entry.item", use_float=True), 1):
            yield from _entry(entry, path, count)
    except ijson.JSONError as error:
        yield Rejection(path, f"after entry {count}", f"invalid JSON: {error}")


def version_of(resource: dict[str, Any]) -> str:
    r4b = (
        "sponsor" in resource
        or "arm" in resource
        or any(
            isinstance(e, dict) and str(e.get("url", "")).startswith(XVER)
            for e in (resource.get("extension") if isinstance(resource.get("extension"), list) else [])
        )
    )
    return "R4B" if r4b else "R5"


def study(resource: dict[str, Any], path: str, record: str | None) -> ReadResult:
    fmt = f"fhir-{version_of(resource).lower()}"
    try:
        fields, nct = fhir_read.fields(resource)
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
