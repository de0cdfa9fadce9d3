"""The canonical model as JSON Lines: ``trials.jsonl``, one ``Trial.model_dump(mode="json")`` a line."""

from __future__ import annotations

from pathlib import Path

import orjson

from trialport.atomic import AtomicFile
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial


def dumps(trial: Trial) -> bytes:
    """The canonical JSON of one trial, as one line."""
    return orjson.dumps(trial.model_dump(mode="json"))


class JsonLinesExporter(Exporter):
    name = "json"
    description = "canonical model, one trial per line (trials.jsonl)"

    def __init__(self, out_dir: Path) -> None:
        super().__init__(out_dir)
        self._file = AtomicFile(self.out_dir / "trials.jsonl")

    def write(self, trial: Trial) -> None:
        self._file.write(dumps(trial) + b"\n")
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        self.summary.files.append(str(self._file.commit()))
        return self.summary

    def abort(self) -> None:
        self._file.discard()
