"""Reader for the endpoints workbook trialport writes, after a coordinator has edited it.

Trials come from the Trials, Conditions and Interventions sheets, outcomes from the Endpoints rows as
they now stand: changed text, added rows, deleted rows, changed kind, any sort order (rows are put back
in order by kind, then the order column; a new row without an order goes last in its kind). A time frame's
text is parsed again, so an edited text brings its own value and unit; where the text cannot be parsed,
a value and unit the row gives (the UCUM column, else the unit in words) are kept. Sites, People,
References and the Eligibility criteria come back through ``xlsx_records``. Text moved to the Overflow
sheet is put back. A row that cannot be taken (unknown kind, unknown trial id, empty measure, ...) is
rejected with its sheet and row, and the rest is read. A workbook written before a sheet existed still
reads; each trial then says (an info diagnostic ``not-carried``) which fields the workbook did not carry,
so that ``diff`` does not take them for deleted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError

from trialport.exporters.xlsx import KINDS
from trialport.mapping import timeframes
from trialport.mapping.terminology import HGNC
from trialport.model import Diagnostic, Source
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, sha256
from trialport.readers.ctgov_values import enum
from trialport.readers.xlsx_records import read_eligibility, read_people, read_references, read_sites
from trialport.readers.xlsx_records import text as _text

MARKER = " more characters on the Overflow sheet]"
SHEETS = (
    "Trials",
    "Conditions",
    "Interventions",
    "Endpoints",
    "Sites",
    "People",
    "References",
    "Eligibility",
    "Overflow",
)
REQUIRED = {  # a row means nothing without these
    "Trials": ("trial id",),
    "Endpoints": ("trial id", "kind", "measure"),
    "Sites": ("trial id",),
    "People": ("trial id", "kind"),
    "References": ("trial id",),
    "Eligibility": ("trial id", "kind", "criterion"),
}
# the fields a sheet carries: a workbook without the sheet does not know them
CARRIES = {
    "Sites": ("locations",),
    "People": ("contacts", "officials"),
    "References": ("references", "links"),
    "Eligibility": ("eligibility.inclusion", "eligibility.exclusion"),
}
_UNIT_CODES = set(timeframes.UCUM.values())
_FRAME_KINDS = ("duration", "timepoint", "schedule")


def _split(value: Any, separator: str = " | ") -> list[str]:
    return [part.strip() for part in (_text(value) or "").split(separator) if part.strip()]


def _unit(value: Any) -> str | None:
    """A UCUM code (``mo``) or a unit in words (``months``, ``Month``) as its UCUM code."""
    unit = _text(value)
    if unit is None or unit in _UNIT_CODES:
        return unit
    return timeframes.UCUM.get(unit.lower().removesuffix("s"))


def _values(value: Any) -> float | list[float] | None:
    """A number (``18``) or numbers (``6, 12``) as the value column shows them; None for anything else."""
    try:
        if isinstance(value, bool):
            return None
        numbers = [float(value)] if isinstance(value, int | float) else [float(p) for p in _split(value, ",")]
    except ValueError:
        return None
    if not numbers or not all(map(math.isfinite, numbers)):
        return None
    return numbers[0] if len(numbers) == 1 else numbers


def _time_frame(text: str | None, row: dict[str, Any]) -> dict[str, Any] | None:
    """The time frame of an Endpoints row: its text parsed again; a text the parser cannot read keeps the
    value and unit the row gives (a coordinator's reading of it)."""
    if not text:
        return None
    parsed = timeframes.parse(text)
    unit, value = _unit(row.get("UCUM")) or _unit(row.get("unit")), _values(row.get("value"))
    if parsed.kind != "unparsed" or unit is None or value is None:
        return parsed.model_dump()
    kind = _text(row.get("time frame kind"))
    if kind not in _FRAME_KINDS:
        kind = "schedule" if isinstance(value, list) and len(value) > 2 else "duration"
    iso = None if kind == "schedule" else _iso(value[-1] if isinstance(value, list) else value, unit)
    return {
        "text": text,
        "kind": kind,
        "value": value,
        "unit": unit,
        "iso8601": iso,
        "anchor": _text(row.get("anchor")),
    }


def _iso(amount: float, unit: str) -> str:
    """ISO 8601 for an amount of a UCUM unit, as the time frame parser writes it: 18 mo -> P18M, 6 h -> PT6H."""
    designator = timeframes.ISO[unit]
    return f"PT{amount:g}{designator[1]}" if designator.startswith("T") else f"P{amount:g}{designator}"


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
            missing = [name for name in CARRIES if name not in workbook.sheetnames]
        finally:
            workbook.close()
        if not sheets["Trials"] and not sheets["Endpoints"]:
            yield Rejection(str(path), None, "no Trials or Endpoints sheet: not a trialport endpoints workbook")
            return
        yield from _trials(sheets, missing, str(path), sha256(path.read_bytes()))


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


def _trials(sheets: dict[str, list], missing: list[str], path: str, digest: str) -> Iterator[ReadResult]:
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

    not_carried = [
        Diagnostic(
            level="info",
            code="not-carried",
            field=field,
            message=f"the workbook has no {sheet} sheet (written before it had one): {field} not known",
        )
        for sheet in missing
        for field in CARRIES[sheet]
    ]
    trials: dict[str, dict[str, Any]] = {}
    for _, row in sheets["Trials"]:
        trial_id = _text(row.get("trial id"))
        if not trial_id:
            continue
        eligibility = {
            "std_ages": [a for a in map(enum, _split(row.get("age groups"), ",")) if a],
            "study_population": full("Trials", trial_id, "study population", row.get("study population")),
            "sampling_method": enum(_text(row.get("sampling method"))),
        }
        design = {
            "observational_model": enum(_text(row.get("observational model"))),
            "time_perspective": enum(_text(row.get("time perspective"))),
        }
        trials[trial_id] = {
            "title": full("Trials", trial_id, "title", row.get("title")),
            "official_title": full("Trials", trial_id, "official title", row.get("official title")),
            "acronym": _text(row.get("acronym")),
            "phases": _split(row.get("phases"), ","),
            "status": _text(row.get("status")),
            "why_stopped": full("Trials", trial_id, "why stopped", row.get("why stopped")),
            "study_type": _text(row.get("study type")),
            "sponsor": _text(row.get("sponsor")),
            "eligibility": eligibility if any(eligibility.values()) else None,
            "design": design if any(design.values()) else None,
            "conditions": {},
            "interventions": {},
            "outcomes": [],
            "locations": [],
            "contacts": [],
            "officials": [],
            "references": [],
            "links": [],
            "diagnostics": list(not_carried),
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
                    "time_frame": _time_frame(time_frame, row),
                },
            )
        )
    yield from read_sites(sheets["Sites"], trials, full, path)
    yield from read_people(sheets["People"], trials, full, path)
    yield from read_references(sheets["References"], trials, full, path)
    yield from read_eligibility(sheets["Eligibility"], trials, full, path)

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
