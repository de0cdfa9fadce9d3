"""The coordinators' workbook (``endpoints.xlsx``): every endpoint on one sheet, and back in after edits.

Sheets: Endpoints (one row per outcome, parsed time frame beside the text, a hidden key to match rows
after sorting), Trials, Conditions, Interventions (with codes), Issues (every diagnostic, and every
place a format limit moved text), Overflow (text past Excel's 32,767 characters a cell), About.
Written with openpyxl's write-only mode, so memory stays flat in the number of trials. Text is always
written as text, never as a formula. A sheet that reaches Excel's row limit continues on "<name> (2)".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from trialport import __version__
from trialport.atomic import AtomicFile
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial

CELL_LIMIT = 32_767
ROW_LIMIT = 1_048_576
KINDS = ("primary", "secondary", "other")
# (header, width, wrapped) per sheet; the first Endpoints column is the hidden key.
SHEETS: dict[str, list[tuple[str, int, bool]]] = {
    "Endpoints": [
        ("key", 14, False),
        ("trial id", 14, False),
        ("trial title", 40, True),
        ("kind", 11, False),
        ("order", 7, False),
        ("measure", 45, True),
        ("description", 60, True),
        ("time frame", 30, True),
        ("time frame kind", 12, False),
        ("value", 10, False),
        ("unit", 7, False),
        ("ISO 8601", 10, False),
        ("anchor", 22, True),
        ("conditions", 30, True),
        ("interventions", 35, True),
    ],
    "Trials": [
        ("trial id", 14, False),
        ("title", 50, True),
        ("official title", 50, True),
        ("acronym", 12, False),
        ("phases", 14, False),
        ("status", 16, False),
        ("study type", 16, False),
        ("sponsor", 30, True),
        ("conditions", 30, True),
        ("interventions", 35, True),
        ("primary endpoints", 9, False),
        ("secondary endpoints", 9, False),
        ("other endpoints", 9, False),
        ("CAR targets", 14, False),
        ("source", 40, False),
    ],
    "Conditions": [
        ("trial id", 14, False),
        ("#", 5, False),
        ("condition", 40, True),
        ("system", 36, False),
        ("code", 12, False),
        ("display", 40, True),
        ("origin", 10, False),
    ],
    "Interventions": [
        ("trial id", 14, False),
        ("#", 5, False),
        ("type", 14, False),
        ("name", 45, True),
        ("other names", 30, True),
        ("arms", 30, True),
        ("system", 30, False),
        ("code", 12, False),
        ("display", 30, True),
        ("origin", 10, False),
    ],
    "Issues": [
        ("trial id", 14, False),
        ("level", 9, False),
        ("code", 24, False),
        ("field", 24, False),
        ("message", 90, True),
    ],
    "Overflow": [
        ("sheet", 12, False),
        ("key", 14, False),
        ("column", 16, False),
        ("part", 6, False),
        ("text", 100, True),
    ],
}
REGISTRY_URL = "https://clinicaltrials.gov/study/"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


MAX_LINES = 12  # a row shows at most this many lines; the cell holds all of the text


def _lines(text: str, width: int) -> int:
    """Lines a wrapped cell of ``width`` needs for ``text`` (about one character a width unit)."""
    per_line = max(1, int(width * 1.1))
    return sum(max(1, -(-len(paragraph) // per_line)) for paragraph in text.split("\n"))


def _join(items: list[str]) -> str:
    return " | ".join(items)


def _number(value: float | list[float] | None) -> str | float | None:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" for v in value)
    return value


class _Sheet:
    """One logical sheet: continues on "<name> (2)" past the row limit; a table and filters on each part."""

    def __init__(self, exporter: XlsxExporter, name: str) -> None:
        self.exporter, self.name, self.columns = exporter, name, SHEETS[name]
        self.parts = 0
        self._new_part()

    def _new_part(self) -> None:
        self.parts += 1
        title = self.name if self.parts == 1 else f"{self.name} ({self.parts})"
        self.ws = self.exporter.workbook.create_sheet(title[:31])
        self.rows = 1
        self.ws.freeze_panes = "A2"
        self.ws.page_setup.orientation = "landscape"  # printed (or made a PDF): every column on the page
        self.ws.page_setup.fitToWidth, self.ws.page_setup.fitToHeight = 1, 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        for index, (_, width, _) in enumerate(self.columns, 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        if self.name == "Endpoints":
            self.ws.column_dimensions["A"].hidden = True
            kinds = DataValidation(
                type="list",
                formula1='"' + ",".join(KINDS) + '"',
                allow_blank=False,
                showErrorMessage=True,
                errorTitle="kind",
                error="primary, secondary or other",
            )
            self.ws.data_validations.append(kinds)
            kinds.add(f"D2:D{ROW_LIMIT}")
        self.ws.row_dimensions[1] = RowDimension(self.ws, index=1, ht=30)  # two lines for long headers
        self.ws.append([self.exporter.cell(self.ws, header, "header") for header, _, _ in self.columns])

    def append(self, values: list[Any], key: str = "", link: str | None = None) -> None:
        """One row; ``link`` makes the trial id cell a hyperlink (to the registry page)."""
        if self.rows >= ROW_LIMIT:
            self.close()
            self._new_part()
        cells, lines = [], 1
        for (header, width, wrapped), value in zip(self.columns, values, strict=True):
            value = self.exporter.fit(value, self.name, key, header)
            cell = self.exporter.cell(self.ws, value, "wrapped" if wrapped else "cell")
            if link and header == "trial id":
                cell.hyperlink, cell.style = link, "link"
            if wrapped and isinstance(value, str):
                lines = max(lines, _lines(value, width))
            cells.append(cell)
        # Wrapped text needs a row tall enough to show it (readers do not size rows by themselves);
        # the dimension is dropped once the row is written, so memory stays flat.
        row = self.rows + 1
        if lines > 1:
            self.ws.row_dimensions[row] = RowDimension(self.ws, index=row, ht=15 * min(lines, MAX_LINES))
        self.ws.append(cells)
        self.ws.row_dimensions.pop(row, None)
        self.rows += 1

    def close(self) -> None:
        """The current part becomes an Excel Table (filters, banded rows)."""
        last = get_column_letter(len(self.columns))
        name = f"{self.name}{self.parts}".replace(" ", "")
        table = Table(
            displayName=name,
            ref=f"A1:{last}{max(self.rows, 2)}",
            tableStyleInfo=TableStyleInfo(name="TableStyleMedium2", showRowStripes=True),
        )
        table.tableColumns = [TableColumn(id=i, name=h) for i, (h, _, _) in enumerate(self.columns, 1)]
        table._initialise_columns = lambda: None  # columns given above: write-only mode cannot infer them
        with warnings.catch_warnings():  # openpyxl warns to add the columns by hand, which is what was done
            warnings.simplefilter("ignore", UserWarning)
            self.ws.add_table(table)


class XlsxExporter(Exporter):
    name = "xlsx"
    description = "coordinators' endpoints workbook (endpoints.xlsx), readable back after edits"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.file = AtomicFile(self.out_dir / "endpoints.xlsx")
        self.workbook = Workbook(write_only=True)
        for style in self._styles():
            self.workbook.add_named_style(style)
        self.sheets = {name: _Sheet(self, name) for name in SHEETS}
        self.moved = 0
        self.inputs: set[str] = set()

    @staticmethod
    def _styles() -> list[NamedStyle]:
        header = NamedStyle(
            "header",
            font=Font(bold=True, color="FFFFFF"),
            fill=PatternFill("solid", fgColor="1F4E78"),
            alignment=Alignment(vertical="center", wrap_text=True),
        )
        wrapped = NamedStyle("wrapped", alignment=Alignment(wrap_text=True, vertical="top"))
        cell = NamedStyle("cell", alignment=Alignment(vertical="top"))
        link = NamedStyle("link", font=Font(color="0563C1", underline="single"), alignment=Alignment(vertical="top"))
        return [header, wrapped, cell, link]

    def cell(self, ws: Any, value: Any, style: str | None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text: "=SUM(...)" is never a formula
        if style:
            cell.style = style
        return cell

    def fit(self, value: Any, sheet: str, key: str, column: str) -> Any:
        """Text past Excel's cell limit: the cell keeps the start and says so; the whole text goes to the
        Overflow sheet in parts, from where the reader puts it back together."""
        if not isinstance(value, str) or len(value) <= CELL_LIMIT:
            return value
        self.moved += 1
        limit = CELL_LIMIT - 200
        for part, start in enumerate(range(0, len(value), limit), 1):
            self.sheets["Overflow"].append([sheet, key, column, part, value[start : start + limit]])
        self.sheets["Issues"].append(
            [
                key.split("#")[0],
                "info",
                "cell-limit",
                f"{sheet}.{column}",
                f"{len(value):,} characters: the full text is on the Overflow sheet",
            ]
        )
        marker = f" [... {len(value) - limit:,} more characters on the Overflow sheet]"
        return value[: CELL_LIMIT - len(marker)] + marker

    def write(self, trial: Trial) -> None:
        conditions = _join([c.name for c in trial.conditions])
        interventions = _join([f"{i.type}: {i.name}" if i.type else i.name for i in trial.interventions])
        if trial.source:
            self.inputs.add(trial.source.path)
        order = dict.fromkeys(KINDS, 0)
        endpoints = self.sheets["Endpoints"]
        for outcome in trial.outcomes:
            order[outcome.kind] += 1
            tf = outcome.time_frame
            key = f"{trial.id}#{outcome.kind[0]}{order[outcome.kind]}"
            row = [
                key,
                trial.id,
                trial.title,
                outcome.kind,
                order[outcome.kind],
                outcome.measure,
                outcome.description,
                tf.text if tf else None,
                tf.kind if tf else None,
                _number(tf.value) if tf else None,
                tf.unit if tf else None,
                tf.iso8601 if tf else None,
                tf.anchor if tf else None,
                conditions,
                interventions,
            ]
            endpoints.append(row, key, REGISTRY_URL + trial.id if trial.id.startswith("NCT") else None)
        counts = {kind: sum(o.kind == kind for o in trial.outcomes) for kind in KINDS}
        targets = _join([c.display or c.code for c in trial.cell_therapy.targets]) if trial.cell_therapy else None
        self.sheets["Trials"].append(
            [
                trial.id,
                trial.title,
                trial.official_title,
                trial.acronym,
                ", ".join(trial.phases),
                trial.status,
                trial.study_type,
                trial.sponsor,
                conditions,
                interventions,
                counts["primary"],
                counts["secondary"],
                counts["other"],
                targets,
                trial.source.path if trial.source else None,
            ],
            trial.id,
        )
        for number, condition in enumerate(trial.conditions, 1):
            for code in condition.codes or [None]:
                self.sheets["Conditions"].append(
                    [
                        trial.id,
                        number,
                        condition.name,
                        code.system if code else None,
                        code.code if code else None,
                        code.display if code else None,
                        code.origin if code else None,
                    ],
                    trial.id,
                )
        for number, intervention in enumerate(trial.interventions, 1):
            for code in intervention.codes + intervention.targets or [None]:
                self.sheets["Interventions"].append(
                    [
                        trial.id,
                        number,
                        intervention.type,
                        intervention.name,
                        _join(intervention.other_names),
                        _join(intervention.arm_labels),
                        code.system if code else None,
                        code.code if code else None,
                        code.display if code else None,
                        code.origin if code else None,
                    ],
                    trial.id,
                )
        for d in trial.diagnostics:
            self.sheets["Issues"].append([trial.id, d.level, d.code, d.field, d.message], trial.id)
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        about = self.workbook.create_sheet("About")
        for line in (
            ["endpoints.xlsx", f"written by trialport {__version__}"],
            ["written", datetime.now(UTC).isoformat(timespec="seconds")],
            ["trials", self.summary.trials],
            ["inputs", _join(sorted(self.inputs))],
            ["re-import", "trialport inspect endpoints.xlsx  /  trialport convert endpoints.xlsx --to fhir"],
            ["edit", "change text, add or delete Endpoints rows, change kind; keep the hidden key column"],
        ):
            about.append([self.cell(about, v, None) for v in line])
        for sheet in self.sheets.values():
            sheet.close()
        self.workbook.save(self.file.file)
        if self.moved:
            self.summary.notes.append(
                f"{self.moved} cells over {CELL_LIMIT:,} characters: full text on the Overflow sheet"
            )
        self.summary.files.append(str(self.file.commit()))
        return self.summary

    def abort(self) -> None:
        self.file.discard()
