"""Atomic file output: write to a temporary file beside the target, rename over it when complete.

An interrupted run leaves the previous output in place and no half-written file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class AtomicFile:
    """A binary file that appears at ``path`` only on ``commit``; ``discard`` removes all trace.
    ``durable`` also flushes it to disk before the rename (survives a power cut, not just a kill);
    small per-record files skip that, since a sync each would dominate the run."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.file: IO[bytes] = open(self._tmp, "wb")  # noqa: SIM115  (closed in commit/discard)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> Path:
        self.file.flush()
        if self.durable:
            os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self._tmp, self.path)
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


def write_bytes(path: Path, data: bytes, durable: bool = True) -> Path:
    with atomic_write(path, durable) as target:
        target.write(data)
    return Path(path)
