"""A study's files on disk, and the CSV text they and the overview files hold.

A study folder is written whole or not at all: its files go into a hidden temporary folder beside it, which
is renamed into place in one step. When the folder is already there (an earlier run, or a study that came
twice), each file is moved over its old version instead, one atomic rename per file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def csv_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """``rows`` as UTF-8 CSV lines ending in ``\\n`` (quoted only where needed, as the csv module does)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_folder(folder: str, files: Sequence[tuple[str, bytes]], stale: Sequence[str] = ()) -> None:
    """Put ``files`` (name, content) in ``folder``, which appears (or has each file replaced) only when complete.
    ``stale``: names an earlier version of the folder may hold that this one must not (removed if there)."""
    parent, name = os.path.split(folder)
    staging = os.path.join(parent, f".{name}.{os.getpid()}.tmp")
    try:
        os.mkdir(staging)
    except FileExistsError:  # left by an interrupted run of a process that had the same id
        shutil.rmtree(staging)
        os.mkdir(staging)
    try:
        for filename, content in files:
            _write(os.path.join(staging, filename), content)
        try:
            os.rename(staging, folder)
            return
        except OSError:
            if not os.path.isdir(folder):
                raise
        for filename, _ in files:  # the folder exists: replace file by file, each whole
            os.replace(os.path.join(staging, filename), os.path.join(folder, filename))
        for filename in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, filename))
        os.rmdir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(path: str, content: bytes) -> None:
    handle = os.open(path, _FLAGS, 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(handle, view) :]
    finally:
        os.close(handle)
