"""CDISC SDTM Trial Summary: ``cdisc/<STUDYID>/`` with ts.xpt, ts.csv and define.xml for each study, and
``cdisc/ts_all.csv`` with every study's rows (full text, unsplit) for an overview.

What XPT's rules changed (characters transliterated, long values split) is listed row by row in
``cdisc/xpt_changes.csv`` and counted in the run report.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialport.atomic import AtomicFile, write_bytes
from trialport.cdisc.dataset import dataset
from trialport.cdisc.define import define_xml
from trialport.cdisc.files import csv_bytes, write_xpt
from trialport.cdisc.ts import VARIABLES, ts_rows
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


class CdiscExporter(Exporter):
    name = "cdisc"
    description = "CDISC SDTM Trial Summary: ts.xpt (XPORT v5), ts.csv, define.xml per study; ts_all.csv"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.folder = self.out_dir / "cdisc"
        self.overview = AtomicFile(self.folder / "ts_all.csv")
        self.overview.write(_csv_line(list(VARIABLES)))
        self.changes = AtomicFile(self.folder / "xpt_changes.csv")
        self.changes.write(_csv_line(["STUDYID", "TSPARMCD", "TSSEQ", "change"]))
        self.changed = self.split = self.studies_changed = 0
        self.seen: set[str] = set()
        self.repeated: list[str] = []

    def write(self, trial: Trial) -> None:
        if trial.id in self.seen:
            self.repeated.append(trial.id)
        self.seen.add(trial.id)
        rows = ts_rows(trial)
        for row in rows:
            self.overview.write(_csv_line(list(row.values())))
        data = dataset(rows)
        folder = self.folder / _UNSAFE.sub("_", trial.id)
        folder.mkdir(parents=True, exist_ok=True)
        write_xpt(data, folder / "ts.xpt")
        write_bytes(folder / "ts.csv", csv_bytes(data), durable=False)
        write_bytes(folder / "define.xml", define_xml(data, trial.id, trial.official_title or trial.title), False)
        for change in data.changes:
            self.changes.write(_csv_line([change.study, change.parameter, change.seq, change.what]))
            self.split += change.what.startswith("TSVAL split")
        self.changed += len(data.changes)
        self.studies_changed += bool(data.changes)
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
