"""The canonical model as JSON Lines: ``trials.jsonl``, one ``Trial.model_dump(mode="json")`` a line."""

from __future__ import annotations

import orjson

from trialport.exporters.base import FileExporter
from trialport.model import Trial


def dumps(trial: Trial) -> bytes:
    """The canonical JSON of one trial, as one line."""
    return orjson.dumps(trial.model_dump(mode="json"))


class JsonLinesExporter(FileExporter):
    name = "json"
    description = "canonical model, one trial per line (trials.jsonl)"
    filename = "trials.jsonl"

    def write(self, trial: Trial) -> None:
        self.file.write(dumps(trial) + b"\n")
        self.summary.trials += 1
