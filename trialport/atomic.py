"""Atomic file output: write to a temporary file beside the target, rename over it when complete.

An interrupted run leaves the previous output in place and no half-written file behind. Inside
``staging(out_dir)`` (one ``convert`` run) every file bound for ``out_dir`` goes to a hidden staging folder
instead, and the whole set is moved into place only when the run succeeds: an interrupted run replaces
none of the previous outputs, not even the per-study files it had already finished. What a killed run
leaves behind is hidden (readers skip hidden files) and swept away by the next run into the same folder.

A run also leaves a manifest (``.trialport-manifest``: the files it wrote, one relative path a line). The
next run into the folder removes, when it publishes, the files the previous run wrote and it did not
(studies no longer in the input, formats no longer asked for), so the folder holds exactly this run's
outputs; files trialport never wrote are left alone. Both lists stream: neither is held in memory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

STAGING_PREFIX = ".trialport-run."
MANIFEST = ".trialport-manifest"
_STALE = ".stale"  # in the staging folder: the previous run's files this run did not write
_LEFTOVER = re.compile(r"^\.(?:trialport-run\.(\d+)|.+\.(\d+)\.tmp)$")  # a staging folder, or a temp file/folder
_SWEEP_DEPTH = 2  # out/, out/fhir/, out/fhir/R5/: where temporary names are made


class Stage:
    """A run's staging folder inside ``out_dir``: outputs are written under it, then published together."""

    def __init__(self, out_dir: Path, last: Sequence[str] = ()) -> None:
        self.out = Path(out_dir).absolute()
        self.folder = self.out / f"{STAGING_PREFIX}{os.getpid()}"
        self.last = tuple(last)

    def place(self, path: Path) -> Path:
        """Where ``path`` is written during the run: its staged twin when it lies under ``out_dir``."""
        absolute = Path(path).absolute()
        if absolute == self.out or self.out not in absolute.parents:
            return Path(path)
        return self.folder / absolute.relative_to(self.out)

    def stale(self) -> int:
        """How many files the previous run into ``out_dir`` wrote that this run has not (so far staged,
        plus the ``last`` names still to come); publishing removes them."""
        count = 0
        with open(self.folder / _STALE, "w", encoding="utf-8") as stale:
            for name in _manifest_lines(self.out / MANIFEST):
                if name not in self.last and not (self.folder / name).exists() and (self.out / name).is_file():
                    stale.write(name + "\n")
                    count += 1
        return count

    def publish(self) -> None:
        """Move every staged file into place (``last``, names directly under ``out_dir``, after the rest),
        remove the previous run's files this run did not write, and record this run's in the manifest.
        A folder new to ``out_dir`` moves in one rename; one already there is merged file by file."""
        if not (self.folder / _STALE).exists():
            self.stale()
        manifest = self.out / f".{MANIFEST}.{os.getpid()}.tmp"
        with open(manifest, "w", encoding="utf-8") as listing:
            for name in _files_under(self.folder):
                listing.write(name + "\n")
        later = [name for name in self.last if (self.folder / name).exists()]
        _merge(self.folder, self.out, skip=set(later))
        for name in later:
            os.replace(self.folder / name, self.out / name)
        for name in _manifest_lines(self.folder / _STALE):
            _remove(self.out, name)
        os.replace(manifest, self.out / MANIFEST)
        shutil.rmtree(self.folder, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _merge(source: str | Path, target: str | Path, skip: frozenset[str] | set[str] = frozenset()) -> None:
    with os.scandir(source) as found:
        for entry in found:
            if entry.name in skip or entry.name.startswith("."):
                continue
            destination = os.path.join(target, entry.name)
            if entry.is_dir(follow_symlinks=False):
                try:
                    os.rename(entry.path, destination)  # a folder new to the output: one step
                    continue
                except OSError:
                    if not os.path.isdir(destination):
                        raise
                _merge(entry.path, destination)
            else:
                os.replace(entry.path, destination)


def _files_under(folder: Path) -> Iterator[str]:
    """Relative POSIX paths of the files under ``folder``, hidden names left out (as readers leave them)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # sorted: the same run, the same manifest
        base = Path(root).relative_to(folder)
        for name in sorted(files):
            if not name.startswith("."):
                yield (base / name).as_posix()


def _manifest_lines(path: Path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                name = line.rstrip("\n")
                if name and not name.startswith("/") and ".." not in Path(name).parts:  # only inside out_dir
                    yield name
    except FileNotFoundError:
        return


def _remove(out: Path, name: str) -> None:
    """Remove ``out/name`` and the folders it leaves empty, up to ``out``."""
    path = out / name
    with suppress(FileNotFoundError):
        path.unlink()
    for folder in path.parents:
        if folder == out or out not in folder.parents:
            break
        try:
            folder.rmdir()
        except OSError:
            break


_active: Stage | None = None


def staged(path: Path) -> Path:
    """``path`` as the running stage places it (``path`` itself outside a stage); its parent exists.
    For exporters that write many files without ``AtomicFile`` (one per study)."""
    place = _active.place(path) if _active else Path(path)
    place.mkdir(parents=True, exist_ok=True)
    return place


def sweep(out_dir: Path) -> list[Path]:
    """Remove the staging folders and temporary files that a killed run left in ``out_dir`` (those of a
    process still running are left alone); returns what was removed."""
    removed: list[Path] = []
    folders = [(Path(out_dir), 0)]
    while folders:
        folder, depth = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _LEFTOVER.match(entry.name)
            if match:
                pid = int(match.group(1) or match.group(2))
                if pid == os.getpid() or not _alive(pid):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        with suppress(OSError):
                            os.unlink(entry.path)
                    removed.append(Path(entry.path))
            elif depth < _SWEEP_DEPTH and not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                folders.append((Path(entry.path), depth + 1))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staging(out_dir: Path, last: Sequence[str] = ()) -> Iterator[Stage]:
    """Stage every file written under ``out_dir`` in this block; publish them all when it ends without
    error, drop them all when it raises (Ctrl-C included). Ctrl-C is held while publishing or dropping,
    so the folder is never left half-published by it; it takes effect right after."""
    global _active
    if _active is not None:
        raise RuntimeError("a staging run is already active in this process")
    sweep(out_dir)
    stage = Stage(out_dir, last)
    stage.folder.mkdir(parents=True)
    _active = stage
    try:
        yield stage
    except BaseException:
        _active = None
        with _sigint_held(redeliver=False):
            stage.discard()
        raise
    _active = None
    with _sigint_held(redeliver=True):
        try:
            stage.publish()
        except BaseException:
            stage.discard()
            raise


@contextmanager
def _sigint_held(redeliver: bool) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, Any]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and redeliver and callable(previous):
        previous(*caught[0])


class AtomicFile:
    """A binary file that appears at ``path`` only on ``commit``; ``discard`` removes all trace.
    ``durable`` also flushes it to disk before the rename (survives a power cut, not just a kill);
    small per-record files skip that, since a sync each would dominate the run. Inside ``staging``,
    ``commit`` moves it to the staging folder, and the stage's publication to ``path``."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        place = _active.place(self.path) if _active else self.path
        place.parent.mkdir(parents=True, exist_ok=True)
        self._place = place
        self._tmp = place.with_name(f".{place.name}.{os.getpid()}.tmp")
        self.file: IO[bytes] = open(self._tmp, "wb")  # noqa: SIM115  (closed in commit/discard)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> Path:
        self.file.flush()
        if self.durable:
            os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self._tmp, self._place)
        return self.path

    def discard(self) -> None:
        self.file.close()
        self._tmp.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: Path, durable: bool = True) -> Iterator[AtomicFile]:
    """``with atomic_write(p) as f: f.write(...)``: committed on success, discarded on any error."""
    target = AtomicFile(path, durable)
    try:
        yield target
    except BaseException:
        target.discard()
        raise
    target.commit()


def put(path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` through a hidden temporary file and one rename, with no disk sync and no
    staging lookup (``path`` is already where it belongs): the lean form for the one file a study has."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes(path: Path, data: bytes, durable: bool = True) -> Path:
    with atomic_write(path, durable) as target:
        target.write(data)
    return Path(path)
