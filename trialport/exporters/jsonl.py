"""The canonical model as JSON Lines: ``trials.jsonl``, one ``Trial.model_dump(mode="json")`` a line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> bytes:
        return dumps(trial) + b"\n"

    def write_rendered(self, rendered: bytes) -> None:
        self.file.write(rendered)
        self.summary.trials += 1
