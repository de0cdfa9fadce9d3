"""CDISC SDTM Trial Summary: ``cdisc/<STUDYID>/`` with ts.xpt, ts.csv and define.xml for each study, and
``cdisc/ts_all.csv`` with every study's rows (full text, unsplit) for an overview.

What XPT's rules changed (characters transliterated, long values split) is listed row by row in
``cdisc/xpt_changes.csv`` and counted in the run report.

``render`` builds a study's files as bytes (so ``convert --jobs`` can do it in worker processes);
``write_rendered`` only writes them: the study's folder appears whole, or its files are replaced one by one.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from trialport import clock
from trialport.atomic import AtomicFile, staged
from trialport.cdisc.dataset import dataset
from trialport.cdisc.define import define_xml
from trialport.cdisc.files import csv_text, write_folder
from trialport.cdisc.ts import VARIABLES, ts_rows
from trialport.cdisc.xpt import xpt_bytes
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RenderedStudy:
    """One study, ready to write: its folder's files, its ts_all.csv and xpt_changes.csv lines, and counts."""

    study_id: str
    folder: str
    files: tuple[tuple[str, bytes], ...]
    overview: bytes
    changes: bytes
    changed: int
    split: int


@cache
def _header(columns: tuple[str, ...]) -> bytes:
    return csv_text([columns])


class CdiscExporter(Exporter):
    name = "cdisc"
    description = "CDISC SDTM Trial Summary: ts.xpt (XPORT v5), ts.csv, define.xml per study; ts_all.csv"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.folder = self.out_dir / "cdisc"
        self.studies = staged(self.folder)  # a run's study folders appear only when it succeeds
        self.overview = AtomicFile(self.folder / "ts_all.csv")
        self.overview.write(csv_text([VARIABLES]))
        self.changes = AtomicFile(self.folder / "xpt_changes.csv")
        self.changes.write(csv_text([["STUDYID", "TSPARMCD", "TSSEQ", "change"]]))
        self.changed = self.split = self.studies_changed = 0
        self.seen: set[str] = set()
        self.repeated: list[str] = []

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> RenderedStudy:
        created = clock.created(options)
        rows = ts_rows(trial)
        data = dataset(rows)
        variables = [(n, data.labels[n], v) for n, v in zip(data.columns, data.by_column, strict=True)]
        xpt = xpt_bytes(variables, created, name="TS", label="Trial Summary")
        body = csv_text(map(dict.values, data.rows))
        # rows the XPT rules left alone are the very same objects: their ts_all.csv lines are ts.csv's
        unchanged = len(rows) == len(data.rows) and all(map(operator.is_, rows, data.rows))
        define = define_xml(data, trial.id, trial.official_title or trial.title, created)
        return RenderedStudy(
            study_id=trial.id,
            folder=_UNSAFE.sub("_", trial.id),
            files=(
                ("ts.xpt", xpt),
                ("ts.csv", _header(tuple(data.columns)) + body),
                ("define.xml", define),
            ),
            overview=body if unchanged else csv_text(map(dict.values, rows)),
            changes=csv_text((c.study, c.parameter, c.seq, c.what) for c in data.changes),
            changed=len(data.changes),
            split=sum(c.what.startswith("TSVAL split") for c in data.changes),
        )

    def write_rendered(self, rendered: RenderedStudy) -> None:
        if rendered.study_id in self.seen:
            self.repeated.append(rendered.study_id)
        self.seen.add(rendered.study_id)
        self.overview.write(rendered.overview)
        write_folder(os.path.join(self.studies, rendered.folder), rendered.files)
        self.changes.write(rendered.changes)
        self.changed += rendered.changed
        self.split += rendered.split
        self.studies_changed += bool(rendered.changed)
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        self.summary.files += [str(self.overview.commit()), str(self.changes.commit())]
        self.summary.files.append(f"{self.folder}/<STUDYID>/ (ts.xpt, ts.csv, define.xml) x {self.summary.trials}")
        if self.changed:
            self.summary.notes.append(
                f"XPT rules: {self.split:,} long values split into TSVAL1..n, "
                f"{self.changed - self.split:,} values transliterated to ASCII ({self.studies_changed:,} of "
                f"{self.summary.trials:,} studies); every change is listed in {self.folder / 'xpt_changes.csv'}"
            )
        if self.repeated:
            self.summary.notes.append(
                f"{len(self.repeated):,} studies came more than once (the last record's folder stands; "
                f"ts_all.csv has every record): {', '.join(sorted(set(self.repeated))[:10])}"
            )
        return self.summary

    def abort(self) -> None:
        self.overview.discard()
        self.changes.discard()
