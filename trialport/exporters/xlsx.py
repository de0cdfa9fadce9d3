"""The coordinators' workbook (``endpoints.xlsx``): every endpoint on one sheet, and back in after edits.

Sheets: Endpoints (one row per outcome, parsed time frame beside the text, a hidden key to match rows
after sorting), Trials, Conditions, Interventions (with codes), Issues (every diagnostic, and every
place a format limit moved or changed text), Overflow (text past Excel's 32,767 characters a cell), About.
Written streaming (``trialport.spreadsheet``), so memory stays flat in the number of trials. Text is always
written as text, never as a formula; characters XML cannot hold (control characters) are dropped and
reported. A sheet that reaches Excel's row limit continues on "<name> (2)".

``render`` turns one trial into plain rows per sheet, already fitted to the format's limits and typed
(it runs in worker processes under ``convert --jobs``); ``write_rendered`` appends them in input order.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialport import __version__, clock
from trialport.atomic import AtomicFile
from trialport.exporters.base import Exporter, ExportSummary
from trialport.model import Trial
from trialport.spreadsheet import CELL_LIMIT, ILLEGAL, MAX_ROWS, Column, ListValidation, Sheet, Workbook

ROW_LIMIT = MAX_ROWS
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
MAX_LINES = 12  # a row shows at most this many lines; the cell holds all of the text
COMPRESSION = 3  # zlib level: on 150 MB of sheet XML 3 takes 0.60 s CPU (1: 0.53 s, 6: 1.48 s), 8% smaller than 1
# per sheet: (header, characters a line holds when the column wraps, else 0)
_LAYOUT = {
    name: tuple((header, max(1, int(width * 1.1)) if wrapped else 0) for header, width, wrapped in columns)
    for name, columns in SHEETS.items()
}

# One row as ``render`` makes it: (sheet, row height in points or 0, registry URL or None, cell values).
Row = tuple[str, float, str | None, tuple[Any, ...]]
# One trial rendered: (input path or None, cells moved to Overflow, cells with characters dropped, rows).
Rendered = tuple[str | None, int, int, tuple[Row, ...]]


def _lines(text: str, per_line: int) -> int:
    """Lines a wrapped cell needs for ``text`` when a line holds ``per_line`` characters."""
    if "\n" not in text:
        return max(1, -(-len(text) // per_line))
    return sum(max(1, -(-len(paragraph) // per_line)) for paragraph in text.split("\n"))


def _join(items: list[str]) -> str:
    return " | ".join(items)


def _number(value: float | list[float] | None) -> str | float | None:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" for v in value)
    return value


class _Rows:
    """The rows of one trial, each fitted to the format: text past the cell limit moves to the Overflow
    sheet, characters XML cannot hold are dropped, and both are noted on the Issues sheet."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.moved = 0
        self.dropped = 0

    def add(self, sheet: str, values: list[Any], key: str, link: str | None = None) -> None:
        lines = 1
        for i, (header, per_line) in enumerate(_LAYOUT[sheet]):
            value = values[i]
            if type(value) is not str:
                continue
            if ILLEGAL.search(value):
                value = values[i] = self._drop(value, sheet, key, header)
            if len(value) > CELL_LIMIT:
                value = values[i] = self._fit(value, sheet, key, header)
            if per_line:
                lines = max(lines, _lines(value, per_line))
        # wrapped text needs a row tall enough to show it (readers do not size rows by themselves)
        self.rows.append((sheet, 15 * min(lines, MAX_LINES) if lines > 1 else 0, link, tuple(values)))

    def _issue(self, key: str, level: str, code: str, field: str, message: str) -> None:
        self.add("Issues", [key.split("#")[0], level, code, field, message], key)

    def _drop(self, value: str, sheet: str, key: str, column: str) -> str:
        self.dropped += 1
        kept = ILLEGAL.sub("", value)
        count = len(value) - len(kept)
        self._issue(key, "warning", "xml-characters", f"{sheet}.{column}", f"{count} control characters dropped")
        return kept

    def _fit(self, value: str, sheet: str, key: str, column: str) -> str:
        """The cell keeps the start and says so; the whole text goes to the Overflow sheet in parts,
        from where the reader puts it back together."""
        self.moved += 1
        limit = CELL_LIMIT - 200
        for part, start in enumerate(range(0, len(value), limit), 1):
            self.add("Overflow", [sheet, key, column, part, value[start : start + limit]], key)
        self._issue(
            key,
            "info",
            "cell-limit",
            f"{sheet}.{column}",
            f"{len(value):,} characters: the full text is on the Overflow sheet",
        )
        marker = f" [... {len(value) - limit:,} more characters on the Overflow sheet]"
        return value[: CELL_LIMIT - len(marker)] + marker


class _Sheet:
    """One logical sheet: continues on "<name> (2)" past the row limit; a table and filters on each part."""

    def __init__(self, book: Workbook, name: str) -> None:
        self.book, self.name = book, name
        self.columns = [
            Column(header, width, "wrapped" if wrapped else "cell", hidden=name == "Endpoints" and i == 0)
            for i, (header, width, wrapped) in enumerate(SHEETS[name])
        ]
        headers = [c.header for c in self.columns]
        self.link_column = headers.index("trial id") if "trial id" in headers else 0
        self.parts = 0
        self.part: Sheet | None = None
        self._new_part()

    def _new_part(self) -> None:
        self.parts += 1
        title = self.name if self.parts == 1 else f"{self.name} ({self.parts})"
        kinds = None
        if self.name == "Endpoints":
            kinds = ListValidation(3, KINDS, "kind", "primary, secondary or other", ROW_LIMIT)
        self.part = self.book.add_sheet(
            title[:31],
            self.columns,
            table=f"{self.name}{self.parts}".replace(" ", ""),
            validation=kinds,
            header_height=30,  # two lines for long headers
            after=self.part,
        )

    def append(self, values: tuple[Any, ...], height: float, link: str | None) -> None:
        """One row; ``link`` makes the trial id cell a hyperlink (to the registry page)."""
        assert self.part is not None
        if self.part.rows >= ROW_LIMIT:
            self._new_part()
        self.part.append(values, height, (self.link_column, link) if link else None)


class XlsxExporter(Exporter):
    name = "xlsx"
    description = "coordinators' endpoints workbook (endpoints.xlsx), readable back after edits"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        self.file = AtomicFile(self.out_dir / "endpoints.xlsx")
        self.book = Workbook(
            self.out_dir, COMPRESSION, creator=f"trialport {__version__}", created=clock.created(self.options)
        )
        self.sheets = {name: _Sheet(self.book, name) for name in SHEETS}
        self.moved = 0
        self.dropped = 0
        self.inputs: set[str] = set()

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> Rendered:
        """The trial's rows for every sheet, as plain tuples (picklable, small)."""
        rows = _Rows()
        conditions = _join([c.name for c in trial.conditions])
        interventions = _join([f"{i.type}: {i.name}" if i.type else i.name for i in trial.interventions])
        link = REGISTRY_URL + trial.id if trial.id.startswith("NCT") else None
        order = dict.fromkeys(KINDS, 0)
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
            rows.add("Endpoints", row, key, link)
        counts = {kind: sum(o.kind == kind for o in trial.outcomes) for kind in KINDS}
        targets = _join([c.display or c.code for c in trial.cell_therapy.targets]) if trial.cell_therapy else None
        rows.add(
            "Trials",
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
                rows.add(
                    "Conditions",
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
                rows.add(
                    "Interventions",
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
            rows.add("Issues", [trial.id, d.level, d.code, d.field, d.message], trial.id)
        return (trial.source.path if trial.source else None, rows.moved, rows.dropped, tuple(rows.rows))

    def write_rendered(self, rendered: Rendered) -> None:
        source, moved, dropped, rows = rendered
        if source:
            self.inputs.add(source)
        sheets = self.sheets
        for sheet, height, link, values in rows:
            sheets[sheet].append(values, height, link)
        self.moved += moved
        self.dropped += dropped
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        about = self.book.add_sheet("About", [Column("", 16, "normal"), Column("", 90, "normal")], header=False)
        for line in (
            ("endpoints.xlsx", f"written by trialport {__version__}"),
            ("written", self.book.created.isoformat(timespec="seconds")),
            ("trials", self.summary.trials),
            ("inputs", _join(sorted(self.inputs))),
            ("re-import", "trialport inspect endpoints.xlsx  /  trialport convert endpoints.xlsx --to fhir"),
            ("edit", "change text, add or delete Endpoints rows, change kind; keep the hidden key column"),
        ):
            about.append(line)
        self.book.save(self.file.file)
        if self.moved:
            self.summary.notes.append(
                f"{self.moved} cells over {CELL_LIMIT:,} characters: full text on the Overflow sheet"
            )
        if self.dropped:
            self.summary.notes.append(
                f"{self.dropped} cells held control characters XML cannot carry: dropped (listed on the Issues sheet)"
            )
        self.summary.files.append(str(self.file.commit()))
        return self.summary

    def abort(self) -> None:
        self.book.discard()
        self.file.discard()
