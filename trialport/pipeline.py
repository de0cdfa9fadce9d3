"""Reading many inputs and converting them: the library calls behind ``inspect`` and ``convert``.

Everything streams: files are read one at a time, records yielded one at a time, and each trial
goes to every exporter as it arrives, so memory stays flat in the number of records. ``convert`` can
spread the reading and rendering over processes (``jobs``; see ``parallel``) and still writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trialport import atomic, clock, parallel
from trialport.exporters.base import Exporter
from trialport.model import Trial
from trialport.parallel import Converted, Failure, Outcome, Unit, Work
from trialport.plugins import exporters as installed_exporters
from trialport.plugins import readers as installed_readers
from trialport.readers.base import Reader, ReadResult, Rejection, can_batch
from trialport.report import RunReport

SNIFF_BYTES = 4096
LOCAL_FILE_BYTES = 16 * 1024 * 1024  # jobs > 1: a file no reader cuts, larger than this, streams here (bounded memory)


@dataclass(frozen=True)
class Record:
    """One record as read: the file, the reader that took it, and the Trial or Rejection. In ``convert``
    with ``jobs > 1`` a converted record's result is a ``Converted`` (its id; the Trial stayed in the worker)."""

    path: Path
    reader: str
    result: ReadResult | Converted

    @property
    def status(self) -> str:
        """converted, skipped or rejected."""
        return self.result.status if isinstance(self.result, Rejection) else "converted"


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


def sniff(path: Path, readers: Sequence[Reader]) -> Reader | Rejection:
    """The reader that takes ``path``, or the Rejection saying why none can."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as error:
        return Rejection(str(path), None, f"cannot read: {error.strerror or error}")
    reader = choose_reader(path, head, readers)
    return reader or Rejection(str(path), None, "no installed reader recognises this file")


def read_file(path: Path, readers: Sequence[Reader] | None = None) -> Iterator[Record]:
    """Every record of one file. A file no reader takes, or a reader that fails part-way, becomes a
    Rejection that says so: nothing is dropped silently, and the next file still reads."""
    reader = sniff(path, installed_readers() if readers is None else readers)
    if isinstance(reader, Rejection):
        yield Record(path, "-", reader)
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


def units(paths: Iterable[str | Path], cut: bool = True) -> Iterator[Work]:
    """The work under ``paths`` in input order: each file whole, or (``cut``) in the batches its reader cuts
    it into; a file settled without reading (unreadable, or no reader takes it) as its Rejection."""
    readers = installed_readers()
    for path in iter_files(paths):
        reader = sniff(path, readers)
        if isinstance(reader, Rejection):
            yield path, "-", reader
        elif not cut or not can_batch(reader):
            yield Unit(path, reader.name, parallel.WHOLE, local=_large(path))
        else:
            try:
                for batch in reader.batches(path):  # type: ignore[attr-defined]
                    yield Unit(path, reader.name, batch, local=batch is parallel.WHOLE and _large(path))
            except Exception as error:  # cutting failed part-way: say so, go on with the next file
                yield path, reader.name, Failure(parallel.reader_failed(reader, error))


def _large(path: Path) -> bool:
    try:
        return path.stat().st_size > LOCAL_FILE_BYTES
    except OSError:
        return False


def convert(
    paths: Iterable[str | Path],
    out_dir: str | Path = "out",
    formats: Sequence[str] | None = None,
    on_record: Callable[[Record], None] | None = None,
    options: dict[str, Any] | None = None,
    jobs: int = 1,
) -> RunReport:
    """Read every record under ``paths``, write it in every format asked for, and return the report
    (also written to ``out_dir/report.json``). ``formats`` defaults to every installed exporter;
    ``options`` go to every exporter (``fhir_version="all"``, ``validate=True``, ``fhir_outputs="ndjson"``).
    ``jobs`` processes share the reading and rendering (the command line's default is every usable core,
    ``len(os.sched_getaffinity(0))``); the files and the report are the same for any ``jobs``, and with
    ``jobs > 1`` ``on_record`` sees each converted record as a ``Converted`` (its id), not the Trial."""
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, not {jobs}")
    available = installed_exporters()
    formats = list(available) if formats is None else list(formats)
    unknown = [name for name in formats if name not in available]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; installed: {', '.join(available)}")
    out = Path(out_dir)
    report = RunReport()
    options = {"created": clock.run_moment(datetime.fromisoformat(report.started)), **(options or {})}
    with atomic.staging(out, last=("report.json",)) as stage:  # nothing replaced until the whole run has succeeded
        _run(paths, out, formats, on_record, options, jobs, report)
        report.stale_removed = stage.stale()
        report.write(out)
    return report


def _run(
    paths: Iterable[str | Path],
    out: Path,
    formats: list[str],
    on_record: Callable[[Record], None] | None,
    options: dict[str, Any],
    jobs: int,
    report: RunReport,
) -> None:
    available = installed_exporters()
    writers: list[Exporter] = [available[name](out, options) for name in formats]
    apart = [parallel.renders_apart(type(writer)) for writer in writers]

    def take(path: Path, reader: str, item: Outcome | Failure) -> None:
        if isinstance(item, Failure):  # the reader raised: the records before it stand
            done = report.files[str(path)].read if str(path) in report.files else 0
            item = Outcome(Rejection(str(path), f"after record {done}" if done else None, item.reason), None)
        report.count(str(path), reader, item.result)
        for writer, split, rendered in zip(writers, apart, item.rendered or (), strict=False):
            if split:
                writer.write_rendered(rendered)
            else:
                writer.write(rendered)
        if on_record:
            on_record(Record(path, reader, item.result))

    try:
        if jobs == 1:
            converter = parallel.Converter(formats, options, keep_trials=True)
            parallel.run_in_process(units(paths, cut=False), converter, take)  # one process: stream each file
        else:
            parallel.run_in_pool(units(paths), formats, options, jobs, take)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    report.exports = [writer.close() for writer in writers]
    report.finished = datetime.now(UTC).isoformat(timespec="seconds")
