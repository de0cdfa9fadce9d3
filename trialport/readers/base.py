"""What every reader shares: the reader protocol, the records it yields besides trials, decoding."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from trialport.model import Trial


@dataclass(frozen=True)
class Rejection:
    """A record that could not become a Trial; the run report counts it and names why."""

    path: str
    record: str | None
    reason: str
    status: ClassVar[str] = "rejected"

    def __str__(self) -> str:
        where = f"{self.path} [{self.record}]" if self.record else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Skipped(Rejection):
    """A document that is not a registry record (an article, a README): nothing to convert."""

    status: ClassVar[str] = "skipped"


ReadResult = Trial | Rejection


class Reader(Protocol):
    """A reader plugin: registered under the ``trialport.readers`` entry-point group.

    ``sniff`` looks at the first bytes of a file (and its name) and says whether this reader takes
    it; ``read`` yields one Trial or Rejection per record, streaming.
    """

    name: str
    description: str
    priority: int  # lower sniffs first; a catch-all reader goes last

    def sniff(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path) -> Iterator[ReadResult]: ...


class BatchReader(Reader, Protocol):
    """A reader that can also cut one file into batches read independently, so that ``convert --jobs``
    spreads a single large file over processes.

    ``batches`` does only the cheap raw cutting (line ranges, archive members), in file order; a batch is
    any picklable value. ``read_batch`` yields that batch's records exactly as ``read`` would have, so
    the batches of a file, read in order, give what ``read`` gives.
    """

    def batches(self, path: Path) -> Iterator[Any]: ...

    def read_batch(self, path: Path, batch: Any) -> Iterator[ReadResult]: ...


def can_batch(reader: Reader) -> bool:
    """Whether ``reader`` offers ``batches`` and ``read_batch`` (an optional part of the protocol)."""
    return callable(getattr(reader, "batches", None)) and callable(getattr(reader, "read_batch", None))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252.

    Returns the text and, when it was not UTF-8, a note saying which encoding was assumed.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "decoded as UTF-16 (byte-order mark)"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        note = f"not valid UTF-8 (byte {error.start}); decoded as cp1252"
        return data.decode("cp1252", errors="replace"), note


def looks_binary(head: bytes) -> bool:
    """NUL bytes outside a UTF-16 BOM mean a binary file, not text."""
    return b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
