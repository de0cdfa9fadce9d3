"""Converting on several processes (``convert --jobs N``) with output identical to one process.

The input is cut into units: a batch of a file when its reader can cut it (``BatchReader``), else the
whole file. Workers read a unit and run every exporter's ``render`` on its trials; the one process
that owns the output files takes the units back strictly in input order, counts every record and
hands each exporter what was rendered. At most ``2 * jobs`` units are in flight, so memory stays
bounded whatever the input's size. With ``jobs=1`` the same units run in-process, streaming.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from trialport.exporters.base import Exporter
from trialport.model import Trial
from trialport.plugins import exporters as installed_exporters
from trialport.plugins import readers as installed_readers
from trialport.readers.base import Reader, ReadResult, Rejection

WHOLE = None  # the batch that means "the whole file, through ``reader.read``"
START_METHOD: str | None = None  # how workers start ("fork", "forkserver", "spawn"); None: chosen per run


@dataclass(frozen=True)
class Unit:
    """One piece of work: a batch of ``path`` (or the whole file) for the reader named ``reader``."""

    path: Path
    reader: str
    batch: Any = WHOLE
    local: bool = False  # read in the writing process (streaming) rather than shipped whole to a worker


class Converted(NamedTuple):  # a NamedTuple: one per record crosses between processes, and pickles cheaply
    """A record that became a trial, as the writing process sees it under ``jobs > 1``: where it came from
    and the trial's id (the Trial itself stays in the worker)."""

    path: str
    record: str | None
    id: str


class Outcome(NamedTuple):
    """One record: its result, and per exporter what ``render`` made of it (``None`` when not converted)."""

    result: ReadResult | Converted
    rendered: tuple[Any, ...] | None


class Failure(NamedTuple):
    """The reader raised part-way through a unit; the writing process says after which record."""

    reason: str


def renders_apart(exporter: type[Exporter]) -> bool:
    """Whether ``exporter`` does its per-trial work in ``render``; one that overrides ``write`` gets the Trial."""
    return exporter.write is Exporter.write


class Converter:
    """Reads units and renders their trials: in each worker process, or in-process for ``jobs=1``."""

    def __init__(self, formats: Sequence[str], options: dict[str, Any], keep_trials: bool) -> None:
        self.readers = {reader.name: reader for reader in installed_readers()}
        available = installed_exporters()
        self.exporters = [(available[name], renders_apart(available[name])) for name in formats]
        self.options = options
        self.keep_trials = keep_trials

    def run(self, unit: Unit) -> list[Outcome | Failure]:
        return list(self.outcomes(unit))

    def outcomes(self, unit: Unit) -> Iterator[Outcome | Failure]:
        """The unit's records in order. A reader that raises ends the unit with a Failure; an exporter
        that raises stops the run (as ``write`` would)."""
        reader = self.readers[unit.reader]
        try:
            batch_read = getattr(reader, "read_batch", None)
            results = iter(reader.read(unit.path) if unit.batch is WHOLE else batch_read(unit.path, unit.batch))
        except Exception as error:
            yield Failure(reader_failed(reader, error))
            return
        while True:
            try:
                result = next(results)
            except StopIteration:
                return
            except Exception as error:  # a reader bug or a broken file must not stop the batch
                yield Failure(reader_failed(reader, error))
                return
            yield self.outcome(result)

    def outcome(self, result: ReadResult) -> Outcome:
        if not isinstance(result, Trial):
            return Outcome(result, None)
        rendered = tuple(cls.render(result, self.options) if split else result for cls, split in self.exporters)
        kept = result if self.keep_trials else Converted(result.source.path, result.source.record, result.id)
        return Outcome(kept, rendered)


def reader_failed(reader: Reader, error: Exception) -> str:
    return f"{reader.name} reader failed: {type(error).__name__}: {error}"


Settled = tuple[Path, str, "Rejection | Failure"]  # settled in the writing process: no reader, or cutting failed
Work = Unit | Settled
Sink = Callable[[Path, str, "Outcome | Failure"], None]


def run_in_process(work: Iterable[Work], converter: Converter, sink: Sink) -> None:
    for unit in work:
        if isinstance(unit, Unit):
            for item in converter.outcomes(unit):
                sink(unit.path, unit.reader, item)
        else:
            _settled(unit, sink)


def _settled(unit: Settled, sink: Sink) -> None:
    path, reader, item = unit
    sink(path, reader, item if isinstance(item, Failure) else Outcome(item, None))


def run_in_pool(
    work: Iterable[Work],
    formats: Sequence[str],
    options: dict[str, Any],
    jobs: int,
    sink: Sink,
) -> None:
    """Units to ``jobs`` worker processes, at most ``2 * jobs`` in flight, results taken in input order.
    Any failure or interruption stops the workers at once."""
    local = Converter(formats, options, keep_trials=False)
    window: deque[tuple[Work, Future[list[Outcome | Failure]] | None]] = deque()
    pool = ProcessPoolExecutor(jobs, _context(), initializer=_start_worker, initargs=(list(formats), options))
    try:
        for unit in work:
            future = pool.submit(_run, unit) if isinstance(unit, Unit) and not unit.local else None
            window.append((unit, future))
            while len(window) >= 2 * jobs:
                _settle(*window.popleft(), local, sink)
        while window:
            _settle(*window.popleft(), local, sink)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _settle(unit: Work, future: Future[list[Outcome | Failure]] | None, local: Converter, sink: Sink) -> None:
    if not isinstance(unit, Unit):
        _settled(unit, sink)
        return
    for item in local.outcomes(unit) if future is None else future.result():
        sink(unit.path, unit.reader, item)


def _context() -> multiprocessing.context.BaseContext:
    """``START_METHOD``, else fork while this process runs no other thread (the quickest start: nothing to
    import again), else forkserver: workers fork from a clean server that has loaded trialport and every
    plugin once, inheriting no threads' locks. Like spawn, forkserver imports the caller's main module again,
    so a script that converts with ``jobs > 1`` belongs under ``if __name__ == "__main__":``."""
    available = multiprocessing.get_all_start_methods()
    method = START_METHOD or ("fork" if threading.active_count() == 1 else "forkserver")
    context = multiprocessing.get_context(method if method in available else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["trialport.parallel", "trialport.warm"])
    return context


_converter: Converter | None = None


def _start_worker(formats: list[str], options: dict[str, Any]) -> None:
    global _converter
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writing process's to handle: it stops us
    _converter = Converter(formats, options, keep_trials=False)


def _run(unit: Unit) -> list[Outcome | Failure]:
    assert _converter is not None
    return _converter.run(unit)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, not after the units already queued."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
    # A worker stopped while sending its result leaves half a message in the result pipe, and the pool's
    # manager thread waits for the rest forever (and exit waits for that thread): closing our end of the
    # pipe, the last one open, ends that wait.
    queue = getattr(pool, "_result_queue", None)
    with suppress(Exception):
        queue._writer.close()  # type: ignore[union-attr]
