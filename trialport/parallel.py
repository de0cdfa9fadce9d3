"""Converting on several processes (``convert --jobs N``) with output identical to one process.

The input is cut into units: a batch of a file when its reader can cut it (``BatchReader``), else the
whole file. Workers read a unit and run every exporter's ``render`` on its trials; the one process
that owns the output files takes the units back strictly in input order, counts every record and
hands each exporter what was rendered. At most ``2 * jobs`` units are in flight, so memory stays
bounded whatever the input's size. With ``jobs=1`` the same units run in-process, streaming.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
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
    """Units to ``jobs`` worker processes in turn, at most ``2 * jobs`` in flight, results taken in input
    order. Any failure or interruption stops the workers at once."""
    local = Converter(formats, options, keep_trials=False)
    context = _context()
    workers: list[Worker] = []
    window: deque[tuple[Work, Worker | None]] = deque()
    turn = 0
    try:
        for _ in range(jobs):
            workers.append(Worker(context, formats, options))
        for unit in work:
            worker = None
            if isinstance(unit, Unit) and not unit.local:
                worker, turn = workers[turn], (turn + 1) % jobs
                worker.send(unit)
            window.append((unit, worker))
            while len(window) >= 2 * jobs:
                _settle(*window.popleft(), local, sink)
        while window:
            _settle(*window.popleft(), local, sink)
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    for worker in workers:
        worker.finish()


class WorkerFailed(RuntimeError):
    """A worker process raised (an exporter's ``render``) or died; the run stops, as it would in one process."""


class Worker:
    """One worker process and the pipe to it. Each worker takes its units in the order sent and answers in
    that order, so taking answers round the workers in turn gives input order. No threads of our own: a
    stopped worker is terminated and its pipe closed, and nothing is left waiting at exit."""

    def __init__(self, context: multiprocessing.context.BaseContext, formats: Sequence[str], options: dict) -> None:
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, list(formats), options), daemon=True)
        self.process.start()
        theirs.close()

    def send(self, unit: Unit) -> None:
        self.pipe.send(unit)

    def receive(self) -> list[Outcome | Failure]:
        try:
            answer = self.pipe.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            raise WorkerFailed(f"a worker process died (exit code {self.process.exitcode})") from None
        if isinstance(answer, WorkerFailed):
            raise answer
        return answer

    def finish(self) -> None:
        self.pipe.send(None)
        self.process.join()
        self.pipe.close()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()


def _settle(unit: Work, worker: Worker | None, local: Converter, sink: Sink) -> None:
    if not isinstance(unit, Unit):
        _settled(unit, sink)
        return
    for item in local.outcomes(unit) if worker is None else worker.receive():
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


def _serve(pipe: Connection, formats: list[str], options: dict[str, Any]) -> None:
    """A worker's life: read units from the pipe, answer each with its outcomes, until told to stop
    (``None``) or its parent is gone. The parent is whoever started us: the writing process under fork,
    the fork server (which ends with the writing process) under forkserver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writing process's to handle: it stops us
    parent = os.getppid()
    converter = Converter(formats, options, keep_trials=False)
    while True:
        while not pipe.poll(1.0):
            if os.getppid() != parent:
                return
        unit = pipe.recv()
        if unit is None:
            return
        try:
            answer: list[Outcome | Failure] | WorkerFailed = converter.run(unit)
        except Exception as error:
            answer = WorkerFailed(f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        try:
            pipe.send(answer)
        except Exception as error:  # an answer that does not pickle (a plugin's render result)
            pipe.send(WorkerFailed(f"cannot send a result back: {type(error).__name__}: {error}"))
