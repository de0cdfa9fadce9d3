"""The exporter plugin protocol: a writer that receives trials one at a time.

Exporters register a class under the ``trialport.exporters`` entry-point group. ``convert`` makes
one instance per run, calls ``write`` for every trial as it streams in, then ``close`` (success) or
``abort`` (the run failed: leave previous outputs untouched).

The work for one trial comes in two halves so that ``convert --jobs N`` can spread it over processes:
``render`` (a class method: no open files, no state; runs in a worker, returns something picklable,
ideally bytes or plain tuples) and ``write_rendered`` (runs in the one process that owns the files,
in input order). A plugin may override just ``write``; it then still works under ``--jobs``, with
the Trial itself shipped back to the writing process.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from trialport.atomic import AtomicFile
from trialport.model import Trial


@dataclass
class ExportSummary:
    """What an exporter did: files written, trials written, and notes for the run report
    (for example where a format's limit made it move or change text)."""

    exporter: str
    files: list[str] = field(default_factory=list)
    trials: int = 0
    notes: list[str] = field(default_factory=list)


class Exporter(ABC):
    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        """``options`` are the run's format options (``fhir_version``, ...); each exporter reads its own."""
        self.out_dir = Path(out_dir)
        self.options = dict(options or {})
        self.summary = ExportSummary(self.name)

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> Any:
        """Everything about one trial that needs no open file (building, serialising). Runs in worker
        processes under ``--jobs``, so it must be pure and its result picklable."""
        return trial

    def write_rendered(self, rendered: Any) -> None:
        """Write what ``render`` made, in input order; runs in the process that owns the files."""
        self.write(rendered)

    def write(self, trial: Trial) -> None:
        """Take one trial; write it now where the format streams, or keep what the end needs.
        Override this, or ``render`` and ``write_rendered`` (which lets ``--jobs`` share the work); an
        exporter that overrides ``write`` is given each Trial there, and its ``render`` is not used."""
        if type(self).write_rendered is Exporter.write_rendered:
            raise NotImplementedError(f"{type(self).__name__} overrides neither write nor write_rendered")
        self.write_rendered(type(self).render(trial, self.options))

    def close(self) -> ExportSummary:
        return self.summary

    def abort(self) -> None:  # noqa: B027  (optional hook: only exporters with open files need it)
        """Drop whatever is half-written; subclasses with open files override this."""


class FileExporter(Exporter):
    """An exporter that streams into one file (``filename`` under the output folder), which appears
    only when the run completes."""

    filename: ClassVar[str]

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.file = AtomicFile(self.out_dir / self.filename)

    def close(self) -> ExportSummary:
        self.summary.files.append(str(self.file.commit()))
        return self.summary

    def abort(self) -> None:
        self.file.discard()
