"""CDISC SDTM Trial Summary and Trial Inclusion/Exclusion Criteria: ``cdisc/<STUDYID>/`` with ts.xpt, ts.csv,
ti.xpt, ti.csv and define.xml for each study, and ``cdisc/ts_all.csv`` and ``cdisc/ti_all.csv`` with every
study's rows (full text, unsplit, uncut) for an overview.

What XPT's rules changed (characters transliterated, long values split, long criteria cut) is listed row by
row in ``cdisc/xpt_changes.csv`` and counted in the run report. A study whose criteria are not split into
items (or that has none) gets no ti.xpt or ti.csv; the run report counts those studies.

``render`` builds a study's files as bytes (so ``convert --jobs`` can do it in worker processes);
``write_rendered`` only writes them: the study's folder appears whole, or its files are replaced one by one.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from trialport import clock
from trialport.atomic import AtomicFile, staged
from trialport.cdisc import ti
from trialport.cdisc.dataset import Dataset, dataset, ti_dataset
from trialport.cdisc.define import define_xml
from trialport.cdisc.files import csv_text, write_folder
from trialport.cdisc.ti import ti_rows
from trialport.cdisc.ts import VARIABLES, ts_rows
from trialport.cdisc.xpt import xpt_bytes
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
CHANGES = ("STUDYID", "DOMAIN", "TSPARMCD", "TSSEQ", "IETESTCD", "change")  # xpt_changes.csv's columns
TI_FILES = ("ti.xpt", "ti.csv")


@dataclass(frozen=True)
class RenderedStudy:
    """One study, ready to write: its folder's files, its ts_all.csv, ti_all.csv and xpt_changes.csv lines,
    and counts. ``no_criteria``: why it has no TI dataset ("" when it has one)."""

    study_id: str
    folder: str
    files: tuple[tuple[str, bytes], ...]
    overview: bytes
    changes: bytes
    changed: int
    split: int
    criteria: bytes = b""
    cut: int = 0
    no_criteria: str = ""


@cache
def _header(columns: tuple[str, ...]) -> bytes:
    return csv_text([columns])


class CdiscExporter(Exporter):
    name = "cdisc"
    description = (
        "CDISC SDTM Trial Summary and Inclusion/Exclusion Criteria: ts.xpt, ti.xpt (XPORT v5), ts.csv, ti.csv, "
        "define.xml per study; ts_all.csv, ti_all.csv"
    )

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.folder = self.out_dir / "cdisc"
        self.studies = staged(self.folder)  # a run's study folders appear only when it succeeds
        self.overview = AtomicFile(self.folder / "ts_all.csv")
        self.overview.write(csv_text([VARIABLES]))
        self.criteria = AtomicFile(self.folder / "ti_all.csv")
        self.criteria.write(csv_text([ti.VARIABLES]))
        self.changes = AtomicFile(self.folder / "xpt_changes.csv")
        self.changes.write(csv_text([CHANGES]))
        self.changed = self.split = self.cut = self.studies_changed = 0
        self.no_criteria: dict[str, int] = {}
        self.seen: set[str] = set()
        self.repeated: list[str] = []

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> RenderedStudy:
        created = clock.created(options)
        rows = ts_rows(trial)
        data = dataset(rows)
        xpt = _xpt(data, created, "TS", "Trial Summary")
        body = csv_text(map(dict.values, data.rows))
        # rows the XPT rules left alone are the very same objects: their ts_all.csv lines are ts.csv's
        unchanged = len(rows) == len(data.rows) and all(map(operator.is_, rows, data.rows))
        files = [("ts.xpt", xpt), ("ts.csv", _header(tuple(data.columns)) + body)]
        criteria = ti_rows(trial)
        title = trial.official_title or trial.title
        changes = data.changes
        if criteria:
            items = ti_dataset(criteria)
            files.append(("ti.xpt", _xpt(items, created, "TI", "Trial Inclusion/Exclusion Criteria")))
            files.append(("ti.csv", _header(tuple(items.columns)) + csv_text(map(dict.values, items.rows))))
            cut = {c.parameter for c in items.changes if c.what.startswith("IETEST cut")}
            whole = {row["IETESTCD"]: row["IETEST"] for row in criteria if row["IETESTCD"] in cut}
            define = define_xml(data, trial.id, title, created, items, whole)
            changes = [*changes, *items.changes]
        else:
            define = define_xml(data, trial.id, title, created)
        files.append(("define.xml", define))
        return RenderedStudy(
            study_id=trial.id,
            folder=_UNSAFE.sub("_", trial.id),
            files=tuple(files),
            overview=body if unchanged else csv_text(map(dict.values, rows)),
            changes=csv_text(
                (c.study, c.domain, c.parameter, c.seq, "", c.what)
                if c.domain == "TS"
                else (c.study, c.domain, "", "", c.parameter, c.what)
                for c in changes
            ),
            changed=len(changes),
            split=sum(c.what.startswith("TSVAL split") for c in data.changes),
            criteria=csv_text(map(dict.values, criteria)),
            cut=sum(c.what.startswith("IETEST cut") for c in changes),
            no_criteria="" if criteria else _why_no_criteria(trial),
        )

    def write_rendered(self, rendered: RenderedStudy) -> None:
        if rendered.study_id in self.seen:
            self.repeated.append(rendered.study_id)
        self.seen.add(rendered.study_id)
        self.overview.write(rendered.overview)
        self.criteria.write(rendered.criteria)
        write_folder(
            os.path.join(self.studies, rendered.folder), rendered.files, stale=TI_FILES if rendered.no_criteria else ()
        )
        self.changes.write(rendered.changes)
        self.changed += rendered.changed
        self.split += rendered.split
        self.cut += rendered.cut
        if rendered.no_criteria:
            self.no_criteria[rendered.no_criteria] = self.no_criteria.get(rendered.no_criteria, 0) + 1
        self.studies_changed += bool(rendered.changed)
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        self.summary.files += [str(self.overview.commit()), str(self.criteria.commit()), str(self.changes.commit())]
        with_ti = self.summary.trials - sum(self.no_criteria.values())
        self.summary.files.append(
            f"{self.folder}/<STUDYID>/ (ts.xpt, ts.csv, define.xml) x {self.summary.trials}, "
            f"(ti.xpt, ti.csv) x {with_ti}"
        )
        if self.changed:
            self.summary.notes.append(
                f"XPT rules: {self.split:,} long values split into TSVAL1..n, {self.cut:,} long criteria cut in "
                f"IETEST (whole in ti_all.csv and define.xml), {self.changed - self.split - self.cut:,} values "
                f"transliterated to ASCII ({self.studies_changed:,} of {self.summary.trials:,} studies); every "
                f"change is listed in {self.folder / 'xpt_changes.csv'}"
            )
        if self.no_criteria:
            reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(self.no_criteria.items()))
            self.summary.notes.append(
                f"TI: {sum(self.no_criteria.values()):,} of {self.summary.trials:,} studies have no ti.xpt ({reasons})"
            )
        if self.repeated:
            self.summary.notes.append(
                f"{len(self.repeated):,} studies came more than once (the last record's folder stands; "
                f"ts_all.csv has every record): {', '.join(sorted(set(self.repeated))[:10])}"
            )
        return self.summary

    def abort(self) -> None:
        self.overview.discard()
        self.criteria.discard()
        self.changes.discard()


def _xpt(data: Dataset, created: datetime, name: str, label: str) -> bytes:
    variables = [(n, data.labels[n], v) for n, v in zip(data.columns, data.by_column, strict=True)]
    return xpt_bytes(variables, created, name=name, label=label)


def _why_no_criteria(trial: Trial) -> str:
    """Why ``trial`` gives no TI rows, in the words the run report counts them by."""
    if trial.eligibility is None or not (trial.eligibility.criteria or "").strip():
        return "list no eligibility criteria"
    if any(d.code == "criteria-unsplit" for d in trial.diagnostics):
        return "have criteria that could not be split into items (criteria-unsplit)"
    return "have criteria not split into items"
