"""Reading many inputs and converting them: the library calls behind ``inspect`` and ``convert``.

Everything streams: files are read one at a time, records yielded one at a time, and each trial
goes to every exporter as it arrives, so memory stays flat in the number of records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trialport.exporters.base import Exporter
from trialport.model import Trial
from trialport.plugins import exporters as installed_exporters
from trialport.plugins import readers as installed_readers
from trialport.readers.base import Reader, ReadResult, Rejection
from trialport.report import RunReport

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Record:
    """One record as read: the file, the reader that took it, and the Trial or Rejection."""

    path: Path
    reader: str
    result: ReadResult


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, sorted, hidden ones left out)."""
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith(".") for part in relative):
                    yield child
        else:
            yield path


def choose_reader(path: Path, head: bytes, readers: Sequence[Reader]) -> Reader | None:
    return next((reader for reader in readers if reader.sniff(path, head)), None)


def read_file(path: Path, readers: Sequence[Reader] | None = None) -> Iterator[Record]:
    """Every record of one file. A file no reader takes, or a reader that fails part-way, becomes a
    Rejection that says so: nothing is dropped silently, and the next file still reads."""
    readers = installed_readers() if readers is None else readers
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as error:
        yield Record(path, "-", Rejection(str(path), None, f"cannot read: {error.strerror or error}"))
        return
    reader = choose_reader(path, head, readers)
    if reader is None:
        yield Record(path, "-", Rejection(str(path), None, "no installed reader recognises this file"))
        return
    count = 0
    try:
        for result in reader.read(path):
            count += 1
            yield Record(path, reader.name, result)
    except Exception as error:  # a reader bug or a broken file must not stop the batch
        where = f"after record {count}" if count else None
        reason = f"{reader.name} reader failed: {type(error).__name__}: {error}"
        yield Record(path, reader.name, Rejection(str(path), where, reason))


def read(paths: Iterable[str | Path], readers: Sequence[Reader] | None = None) -> Iterator[Record]:
    """Every record of every file under ``paths``."""
    for path in iter_files(paths):
        yield from read_file(path, readers)


def trials(paths: Iterable[str | Path]) -> Iterator[Trial]:
    """Just the trials under ``paths`` (rejections are dropped: use ``read`` to see them)."""
    for record in read(paths):
        if isinstance(record.result, Trial):
            yield record.result


def convert(
    paths: Iterable[str | Path],
    out_dir: str | Path = "out",
    formats: Sequence[str] | None = None,
    on_record: Callable[[Record], None] | None = None,
    options: dict[str, Any] | None = None,
) -> RunReport:
    """Read every record under ``paths``, write it in every format asked for, and return the report
    (also written to ``out_dir/report.json``). ``formats`` defaults to every installed exporter;
    ``options`` go to every exporter (``fhir_version="all"``, ``validate=True``)."""
    available = installed_exporters()
    formats = list(available) if formats is None else list(formats)
    unknown = [name for name in formats if name not in available]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; installed: {', '.join(available)}")
    out = Path(out_dir)
    report = RunReport()
    writers: list[Exporter] = [available[name](out, options) for name in formats]
    try:
        for record in read(paths):
            report.count(str(record.path), record.reader, record.result)
            if isinstance(record.result, Trial):
                for writer in writers:
                    writer.write(record.result)
            if on_record:
                on_record(record)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    report.exports = [writer.close() for writer in writers]
    report.finished = datetime.now(UTC).isoformat(timespec="seconds")
    report.write(out)
    return report
