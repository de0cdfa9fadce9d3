"""Reader for the endpoints workbook trialport writes, after a coordinator has edited it.

Trials come from the Trials, Conditions and Interventions sheets, outcomes from the Endpoints rows as
they now stand: changed text, added rows, deleted rows, changed kind, any sort order (rows are put back
in order by kind, then the order column; a new row without an order goes last in its kind). Text moved
to the Overflow sheet is put back. A row that cannot be taken (unknown kind, unknown trial id, empty
measure) is rejected with its sheet and row, and the rest is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError

from trialport.exporters.xlsx import KINDS
from trialport.mapping.terminology import HGNC
from trialport.model import Source
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256

MARKER = " more characters on the Overflow sheet]"
SHEETS = ("Trials", "Conditions", "Interventions", "Endpoints", "Overflow")
REQUIRED = {"Trials": ("trial id",), "Endpoints": ("trial id", "kind", "measure")}  # a row means nothing without these


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _split(value: Any) -> list[str]:
    return [part.strip() for part in (_text(value) or "").split(" | ") if part.strip()]


class XlsxReader:
    name = "xlsx"
    description = "the endpoints workbook trialport writes, read back after editing (.xlsx)"
    priority = 15

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".xlsx"

    def read(self, path: Path) -> Iterator[ReadResult]:
        try:
            # data_only=False: a formula cell reads as its text ("=1+1"), never evaluated nor its cached result trusted
            workbook = load_workbook(path, read_only=True, data_only=False)
        except Exception as error:  # openpyxl raises many kinds for a broken file
            yield Rejection(str(path), None, f"not a readable workbook: {type(error).__name__}: {error}")
            return
        try:
            if problem := _unusable(workbook):
                yield Rejection(str(path), None, problem)
                return
            sheets = {name: list(_rows(workbook, name)) for name in SHEETS}
        finally:
            workbook.close()
        if not sheets["Trials"] and not sheets["Endpoints"]:
            yield Rejection(str(path), None, "no Trials or Endpoints sheet: not a trialport endpoints workbook")
            return
        yield from _trials(sheets, str(path), sha256(path.read_bytes()))


def _unusable(workbook: Any) -> str | None:
    """Why the workbook's sheets cannot be read as the endpoints workbook: a sheet of ours that is not a
    worksheet (a chart sheet), or a sheet without the columns its rows need."""
    for title in workbook.sheetnames:
        sheet = workbook[title]
        name = next((name for name in SHEETS if title == name or title.startswith(f"{name} (")), None)
        if name is None:
            continue
        if not hasattr(sheet, "iter_rows"):
            return f"sheet {title!r} is a {type(sheet).__name__}, not a worksheet"
        header = {str(h) for h in next(sheet.iter_rows(max_row=1, values_only=True), ()) if h is not None}
        missing = [column for column in REQUIRED.get(name, ()) if column not in header]
        if missing and header:
            return f"sheet {title!r} lacks the column(s) {', '.join(missing)}"
    return None


def _rows(workbook: Any, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {header: value}) of every row of a sheet and its continuations ("Name (2)")."""
    for title in workbook.sheetnames:
        if title != name and not (title.startswith(f"{name} (") and title.endswith(")")):
            continue
        rows = workbook[title].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        for number, values in enumerate(rows, 2):
            if any(v not in (None, "") for v in values):
                yield number, dict(zip(header, values, strict=False))


def _trials(sheets: dict[str, list], path: str, digest: str) -> Iterator[ReadResult]:
    overflow: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for number, row in sheets["Overflow"]:
        try:
            overflow[(row["sheet"], row["key"], row["column"])].append((int(row["part"]), str(row["text"] or "")))
        except (KeyError, TypeError, ValueError) as error:
            yield Rejection(path, f"Overflow row {number}", f"not an overflow part: {type(error).__name__}: {error}")

    def full(sheet: str, key: str, column: str, value: Any) -> str | None:
        text = _text(value)
        if text and text.endswith(MARKER) and (sheet, key, column) in overflow:
            return "".join(part for _, part in sorted(overflow[(sheet, key, column)]))
        return text

    trials: dict[str, dict[str, Any]] = {}
    for _, row in sheets["Trials"]:
        trial_id = _text(row.get("trial id"))
        if not trial_id:
            continue
        trials[trial_id] = {
            "title": full("Trials", trial_id, "title", row.get("title")),
            "official_title": full("Trials", trial_id, "official title", row.get("official title")),
            "acronym": _text(row.get("acronym")),
            "phases": [p.strip() for p in (_text(row.get("phases")) or "").split(",") if p.strip()],
            "status": _text(row.get("status")),
            "study_type": _text(row.get("study type")),
            "sponsor": _text(row.get("sponsor")),
            "conditions": {},
            "interventions": {},
            "outcomes": [],
            "diagnostics": [],
        }
    for _, row in sheets["Conditions"]:
        trial = trials.get(_text(row.get("trial id")) or "")
        name = _text(row.get("condition"))
        if trial is None or not name:
            continue
        codes = trial["conditions"].setdefault((_text(row.get("#")), name), [])  # "#": the same condition
        if _text(row.get("code")):
            codes.append(
                {
                    "system": _text(row.get("system")),
                    "code": _text(row.get("code")),
                    "display": _text(row.get("display")),
                    "origin": _text(row.get("origin")) or "registry",
                }
            )
    for _, row in sheets["Interventions"]:
        trial = trials.get(_text(row.get("trial id")) or "")
        if trial is None or not _text(row.get("name")):
            continue
        item = trial["interventions"].setdefault(
            _text(row.get("#")) or _text(row.get("name")),
            {
                "type": _text(row.get("type")),
                "name": _text(row.get("name")),
                "other_names": _split(row.get("other names")),
                "arm_labels": _split(row.get("arms")),
                "codes": [],
            },
        )  # "#" numbers an intervention: its rows (one per code) come together again
        if _text(row.get("code")) and _text(row.get("system")) != HGNC:  # targets are derived again
            item["codes"].append(
                {
                    "system": _text(row.get("system")),
                    "code": _text(row.get("code")),
                    "display": _text(row.get("display")),
                    "origin": _text(row.get("origin")) or "registry",
                }
            )

    rank = {kind: i for i, kind in enumerate(KINDS)}
    for number, row in sheets["Endpoints"]:
        where = f"Endpoints row {number}"
        trial_id, kind = _text(row.get("trial id")), (_text(row.get("kind")) or "").lower()
        key = _text(row.get("key")) or ""
        if trial_id not in trials:
            yield Rejection(path, where, f"trial id {trial_id!r} is not on the Trials sheet")
            continue
        if kind not in rank:
            yield Rejection(path, where, f"kind {row.get('kind')!r} is not primary, secondary or other")
            continue
        measure = full("Endpoints", key, "measure", row.get("measure"))
        if not measure:
            yield Rejection(path, where, "empty measure")
            continue
        order = row.get("order")
        time_frame = full("Endpoints", key, "time frame", row.get("time frame"))
        trials[trial_id]["outcomes"].append(
            (
                (rank[kind], float(order) if isinstance(order, int | float) else float("inf"), number),
                {
                    "kind": kind,
                    "measure": measure,
                    "description": full("Endpoints", key, "description", row.get("description")),
                    "time_frame": {"text": time_frame} if time_frame else None,
                },
            )
        )

    for trial_id, fields in trials.items():
        fields["outcomes"] = [outcome for _, outcome in sorted(fields["outcomes"], key=lambda o: o[0])]
        fields["conditions"] = [{"name": name, "codes": codes} for (_, name), codes in fields["conditions"].items()]
        fields["interventions"] = list(fields["interventions"].values())
        nct = trial_id if trial_id.startswith("NCT") else None
        try:
            trial = assemble(fields, Source(format="xlsx", path=path, record=trial_id, sha256=digest), nct)
            yield trial if trial.id == trial_id else trial.model_copy(update={"id": trial_id})
        except (ValueError, ValidationError) as error:
            yield Rejection(path, trial_id, f"{type(error).__name__}: {error}".splitlines()[0])
