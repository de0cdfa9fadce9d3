"""The run report: every input record accounted for (read = converted + skipped + rejected)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from trialport import __version__
from trialport.atomic import write_bytes
from trialport.exporters.base import ExportSummary
from trialport.readers.base import Rejection


@dataclass
class FileTally:
    path: str
    reader: str
    read: int = 0
    converted: int = 0
    skipped: int = 0
    rejected: int = 0


@dataclass
class RunReport:
    files: dict[str, FileTally] = field(default_factory=dict)
    problems: list[dict[str, str | None]] = field(default_factory=list)
    exports: list[ExportSummary] = field(default_factory=list)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished: str | None = None
    stale_removed: int = 0  # files the previous run into the folder wrote and this one did not: removed

    def tally(self, path: str, reader: str) -> FileTally:
        if path not in self.files:
            self.files[path] = FileTally(path, reader)
        return self.files[path]

    def count(self, path: str, reader: str, result: object) -> None:
        """Count one record read from ``path``: a Trial, or a Rejection/Skipped with its reason."""
        tally = self.tally(path, reader)
        tally.read += 1
        if isinstance(result, Rejection):
            setattr(tally, result.status, getattr(tally, result.status) + 1)
            self.problems.append(
                {"status": result.status, "path": result.path, "record": result.record, "reason": result.reason}
            )
        else:
            tally.converted += 1

    def totals(self) -> dict[str, int]:
        keys = ("read", "converted", "skipped", "rejected")
        return {key: sum(getattr(t, key) for t in self.files.values()) for key in keys}

    @property
    def exit_code(self) -> int:
        """0 when every record converted or was skipped as not a record; 1 when any was rejected."""
        return 1 if self.totals()["rejected"] else 0

    def to_dict(self) -> dict:
        return {
            "trialport": __version__,
            "started": self.started,
            "finished": self.finished,
            "totals": self.totals(),
            "files": [asdict(t) for t in self.files.values()],
            "problems": self.problems,
            "exports": [asdict(e) for e in self.exports],
            "stale_removed": self.stale_removed,
        }

    def write(self, out_dir: Path) -> Path:
        return write_bytes(Path(out_dir) / "report.json", orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2))
