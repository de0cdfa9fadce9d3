"""Reader for ClinicalTrials.gov JSON in every form it reaches people.

API v2: a single study, an array of studies, a page ``{"studies": [...], "nextPageToken": ...}``,
JSON Lines, and the bulk download (a .zip of one JSON file per study). The retired classic API's
``FullStudiesResponse`` too. Small files are parsed whole with orjson; a file larger than
``WHOLE_FILE_LIMIT`` is read incrementally (ijson), so a multi-gigabyte array never sits in memory.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

import ijson
import orjson
from pydantic import ValidationError

from trialport.model import Source
from trialport.readers import ctgov_classic, ctgov_v2
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256
from trialport.readers.shape import mistyped

WHOLE_FILE_LIMIT = 64 * 1024 * 1024
ZIP_MEMBER_LIMIT = 256 * 1024 * 1024  # uncompressed bytes one study file may have in a bulk .zip
_BOM = b"\xef\xbb\xbf"
_SPACE = (b"", b" ", b"\t", b"\r", b"\n")
_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
BATCH_BYTES = 2 * 1024 * 1024  # JSON Lines per batch under ``convert --jobs``: this much, then to the line's end
BATCH_MEMBERS = 100  # bulk .zip members per batch
NEWLINE = ord("\n")


@dataclass(frozen=True)
class Lines:
    """A batch of JSON Lines: ``size`` bytes of whole lines from byte ``start``, the first being line ``first``."""

    start: int
    size: int
    first: int


@dataclass(frozen=True)
class Members:
    """A batch of a bulk .zip: each member's name with its bytes, or the reason it was not read."""

    documents: tuple[tuple[str, bytes | str], ...]


class CtgovJsonReader:
    name = "ctgov-json"
    description = "ClinicalTrials.gov API v2 JSON (study, array, page, JSON Lines, bulk .zip) and classic API JSON"
    priority = 10

    def sniff(self, path: Path, head: bytes) -> bool:
        if head.startswith(b"PK\x03\x04"):
            return path.suffix.lower() == ".zip"
        if head.startswith(_UTF16):
            return head.decode("utf-16", errors="ignore").lstrip(" \t\r\n")[:1] in ("{", "[")
        return head.lstrip(_BOM + b" \t\r\n")[:1] in (b"{", b"[")

    def read(self, path: Path) -> Iterator[ReadResult]:
        if zipfile.is_zipfile(path):
            yield from read_zip(path)
            return
        if _is_damaged_zip(path):
            yield Rejection(str(path), None, "a .zip without its central directory (truncated or damaged)")
            return
        if _is_utf16(path):  # saved by a Windows editor: re-encoded as UTF-8, then read as any other
            if (size := path.stat().st_size) > WHOLE_FILE_LIMIT:
                yield Rejection(str(path), None, f"UTF-16 JSON of {size:,} bytes: re-encode it as UTF-8 to read it")
                return
            utf8 = path.read_bytes().decode("utf-16", errors="replace").encode("utf-8")
            yield from read_stream(io.BytesIO(utf8), str(path), len(utf8))
            return
        with open(path, "rb") as handle:
            yield from read_stream(handle, str(path), path.stat().st_size)

    def batches(self, path: Path) -> Iterator[Lines | Members | None]:
        """JSON Lines as runs of whole lines of about ``BATCH_BYTES``; a bulk .zip as runs of ``BATCH_MEMBERS`` members,
        their bytes read here (reopening a 500,000-member archive per batch would cost more); else ``None``: whole."""
        if zipfile.is_zipfile(path):
            documents = _zip_documents(path)
            while run := tuple(islice(documents, BATCH_MEMBERS)):
                yield Members(run)
            return
        with open(path, "rb") as handle:
            if not _starts_json_lines(handle):
                yield None
                return
            start, first = 0, 1
            buffer = bytearray(BATCH_BYTES)  # one buffer, reused: only sizes and line counts are needed here
            while size := handle.readinto(buffer):
                lines = _newlines(buffer, size)
                if buffer[size - 1] != NEWLINE:  # to the end of the line (or of the file)
                    size, lines = size + len(handle.readline()), lines + 1
                yield Lines(start, size, first)
                start, first = start + size, first + lines

    def read_batch(self, path: Path, batch: Lines | Members | None) -> Iterator[ReadResult]:
        if batch is None:
            yield from self.read(path)
        elif isinstance(batch, Members):
            yield from _zip_studies(str(path), iter(batch.documents))
        else:
            with open(path, "rb") as handle:
                handle.seek(batch.start)
                data = handle.read(batch.size)
            yield from _json_lines(io.BytesIO(data), str(path), batch.first)


def read_stream(handle: IO[bytes], path: str, size: int) -> Iterator[ReadResult]:
    """Studies from one JSON or JSON Lines stream."""
    if _starts_json_lines(handle):
        yield from _json_lines(handle, path)
    elif size > WHOLE_FILE_LIMIT:
        yield from _incremental(handle, path)
    else:
        data = handle.read()
        try:
            document = orjson.loads(data.removeprefix(_BOM))
        except orjson.JSONDecodeError as error:
            yield from _salvage(data, path, f"invalid JSON: {error}")
            return
        yield from studies_in(document, path, None)


_STUDIES_ARRAY = re.compile(r'\s*(?:\[|\{\s*"studies"\s*:\s*\[)')


class NotJson(str):
    """``NaN``, ``Infinity`` or ``-Infinity``, which JSON does not allow: kept as text so the item holding
    it is refused for a wrong type, never taken as a number."""


def _salvage(data: bytes, path: str, reason: str) -> Iterator[ReadResult]:
    """A broken array (or page) of studies: every whole study before the break, then one Rejection for the rest.
    Items are decoded one at a time (``json.raw_decode``: a depth bomb ends in RecursionError, in bounded memory).
    An array that is whole but for a non-JSON constant is read to its end: the item holding it is refused."""
    text = data.removeprefix(_BOM).decode("utf-8", errors="replace")
    start = _STUDIES_ARRAY.match(text)
    count, index = 0, start.end() if start else 0
    constants: list[NotJson] = []
    decoder = json.JSONDecoder(parse_constant=lambda name: constants.append(NotJson(name)) or constants[-1])
    while start:
        index = _skip(text, index)
        if index < len(text) and text[index] == "]" and constants:
            return  # whole but for the constants, and the items holding them are refused
        if index >= len(text) or text[index] == "]":
            break
        try:
            item, index = decoder.raw_decode(text, index)
        except (ValueError, RecursionError):
            break
        count += 1
        if isinstance(item, NotJson):
            yield Rejection(path, f"#{count}", f"invalid JSON: {item} is not a JSON value")
        else:
            yield from studies_in(item, path, f"#{count}")
        index = _skip(text, index)
        if index < len(text) and text[index] == ",":
            index += 1
        elif index >= len(text) or text[index] != "]":
            break
    yield Rejection(path, f"after #{count}" if count else None, reason)


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _is_damaged_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04" and not zipfile.is_zipfile(path)


def _is_utf16(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) in _UTF16


def read_zip(path: Path) -> Iterator[ReadResult]:
    """The bulk download: one JSON document per member, read member by member with a size bound."""
    yield from _zip_studies(str(path), _zip_documents(path))


def _zip_documents(path: Path) -> Iterator[tuple[str, bytes | str]]:
    """Each .json member of a .zip in name order, with its bytes or the reason it was not read."""
    with zipfile.ZipFile(path) as archive:
        for member in sorted(archive.infolist(), key=lambda m: m.filename):
            if member.is_dir() or not member.filename.lower().endswith(".json"):
                continue
            if member.file_size > ZIP_MEMBER_LIMIT:
                yield member.filename, f"member of {member.file_size:,} bytes exceeds the limit"
                continue
            try:
                with archive.open(member) as handle:
                    data = handle.read(ZIP_MEMBER_LIMIT + 1)
            except (
                zipfile.BadZipFile,
                zlib.error,
                NotImplementedError,
                RuntimeError,
            ) as error:  # RuntimeError: encrypted
                yield member.filename, f"unreadable member: {error}"
                continue
            if len(data) > ZIP_MEMBER_LIMIT:  # the header lied about the size: a zip bomb
                yield member.filename, "member expands past the size limit"
                continue
            yield member.filename, data


def _zip_studies(path: str, documents: Iterator[tuple[str, bytes | str]]) -> Iterator[ReadResult]:
    for name, data in documents:
        if isinstance(data, str):
            yield Rejection(path, name, data)
            continue
        try:
            document = orjson.loads(data.removeprefix(_BOM))
        except orjson.JSONDecodeError as error:
            yield Rejection(path, name, f"invalid JSON: {error}")
            continue
        yield from studies_in(document, path, name)


def studies_in(document: Any, path: str, record: str | None) -> Iterator[ReadResult]:
    """Every study in a parsed JSON document, whatever container it came in."""
    if isinstance(document, list):
        if not document and record is not None:  # an item that holds nothing is still an item: say so
            yield Rejection(path, record, "an empty JSON array, not a study")
        for index, item in enumerate(document, 1):
            yield from studies_in(item, path, record or f"#{index}")
    elif not isinstance(document, dict):
        yield Rejection(path, record, f"JSON {type(document).__name__} is not a study")
    elif "protocolSection" in document:
        yield study(document, path, record, "ctgov-v2")
    elif isinstance(document.get("studies"), list):
        for index, item in enumerate(document["studies"], 1):
            yield from studies_in(item, path, f"#{index}")
    elif "FullStudiesResponse" in document:
        response = document["FullStudiesResponse"]
        full = (response.get("FullStudies") if isinstance(response, dict) else None) or []
        if not isinstance(full, list):
            yield Rejection(path, record, f"FullStudiesResponse.FullStudies is a {type(full).__name__}, not a list")
            return
        for index, item in enumerate(full, 1):
            inner = item.get("Study", item) if isinstance(item, dict) else item
            yield study(inner, path, f"#{index}", "ctgov-classic")
    elif "ProtocolSection" in document or "Study" in document:
        yield study(document.get("Study", document), path, record, "ctgov-classic")
    else:
        keys = ", ".join(list(document)[:5]) or "none"
        yield Rejection(path, record, f"not a ClinicalTrials.gov study (no protocolSection; top-level keys: {keys})")


def study(document: dict[str, Any], path: str, record: str | None, fmt: str, raw: bytes | None = None) -> ReadResult:
    """One study (API v2, or classic when ``fmt`` says so) to a Trial, or a Rejection saying why not."""
    try:
        v2 = ctgov_classic.to_v2(document) if fmt == "ctgov-classic" else document
        fields, nct = ctgov_v2.fields(v2)
        digest = sha256(raw if raw is not None else orjson.dumps(document))
        source = Source.model_construct(format=fmt, path=path, record=nct or record, sha256=digest)  # ours: valid
        return assemble(fields, source, nct)
    except (ValueError, TypeError, AttributeError, KeyError, ValidationError) as error:
        nct = _nct_of(document)
        return Rejection(path, nct or record, _reason(error, document))


def _json_lines(handle: IO[bytes], path: str, first: int = 1) -> Iterator[ReadResult]:
    for number, line in enumerate(handle, first):
        if line[:1] in _SPACE and not line.strip():  # a blank line (tested cheaply: a line may be 1 MB)
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield Rejection(path, f"line {number}", f"invalid JSON: {error}")
            continue
        if isinstance(document, dict) and "protocolSection" in document:
            yield study(document, path, f"line {number}", "ctgov-v2", raw=line.rstrip(b"\r\n"))
        else:
            yield from studies_in(document, path, f"line {number}")


def _incremental(handle: IO[bytes], path: str) -> Iterator[ReadResult]:
    head = handle.read(4096)
    handle.seek(0)
    start = head.lstrip(_BOM + b" \t\r\n")[:1]
    if start == b"[":
        prefix = "item"
    elif b'"FullStudiesResponse"' in head:
        prefix = "FullStudiesResponse.FullStudies.item"
    else:
        prefix = "studies.item"
    count = 0
    try:
        for count, item in enumerate(ijson.items(handle, prefix, use_float=True), 1):
            yield from studies_in(item, path, f"#{count}")
    except ijson.JSONError as error:
        yield Rejection(path, f"after #{count}", f"invalid JSON: {error}")


def _newlines(buffer: bytearray, size: int) -> int:
    """Line feeds in ``buffer[:size]``: found one by one (memchr), many times faster than ``count`` on long lines."""
    count, at = 0, buffer.find(b"\n", 0, size)
    while at != -1:
        count, at = count + 1, buffer.find(b"\n", at + 1, size)
    return count


def _starts_json_lines(handle: IO[bytes]) -> bool:
    """A first line that is a whole JSON object with more after it: JSON Lines. Leaves ``handle`` at the start."""
    first_line = handle.readline()
    more = False
    while chunk := handle.read(65536):  # the next line may start with (or be only) whitespace
        if chunk.strip():
            more = True
            break
    handle.seek(0)
    return more and _is_json_object(first_line)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line.removeprefix(_BOM)), dict)
    except orjson.JSONDecodeError:
        return False


def _nct_of(document: Any) -> str | None:
    try:
        ident = document.get("protocolSection", {}).get("identificationModule", {})
        return ident.get("nctId") if isinstance(ident.get("nctId"), str) else None
    except AttributeError:
        return None


def _reason(error: Exception, document: Any = None) -> str:
    if isinstance(error, TypeError | AttributeError) and (where := mistyped(document)):
        return f"wrong type at {where}"
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"invalid value at {where}: {first['msg']}"
    return f"{type(error).__name__}: {error}"
