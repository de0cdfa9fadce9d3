"""An example exporter plugin: every endpoint of every trial as one Markdown table (endpoints.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialport.exporters.base import FileExporter
from trialport.model import Trial


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


class MarkdownExporter(FileExporter):
    name = "markdown"
    description = "Markdown table of endpoints (endpoints.md), an example plugin"
    filename = "endpoints.md"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.file.write(b"| trial | kind | measure | time frame |\n|---|---|---|---|\n")

    def write(self, trial: Trial) -> None:
        for outcome in trial.outcomes:
            time_frame = outcome.time_frame.text if outcome.time_frame else ""
            row = f"| {trial.id} | {outcome.kind} | {_cell(outcome.measure)} | {_cell(time_frame)} |\n"
            self.file.write(row.encode("utf-8"))
        self.summary.trials += 1
