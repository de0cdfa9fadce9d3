"""The coordinators' workbook (``endpoints.xlsx``): every endpoint on one sheet, and back in after edits.

Sheets: Endpoints (one row per outcome, parsed time frame beside the text: the unit in words for people and
as its UCUM code for programs), Trials, Sites (one row per site contact, the site's columns repeated; one
row for a site without contacts), People (central contacts and officials), References (publications and
web links), Eligibility (one row per inclusion or exclusion criterion; a block that could not be split is
one "unsplit" row holding it whole), Conditions, Interventions (with codes), Issues (every diagnostic, and
every place a format limit moved or changed text), Overflow (text past Excel's 32,767 characters a cell),
About. A hidden key on the Endpoints, Sites, People, References and Eligibility rows says which record a row
is, so rows still match after a sort.
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
from trialport.mapping.timeframes import UCUM
from trialport.model import Contact, Eligibility, Location, Trial
from trialport.spreadsheet import CELL_LIMIT, ILLEGAL, MAX_LINKS, MAX_ROWS, Column, ListValidation, Sheet, Workbook

ROW_LIMIT = MAX_ROWS
KINDS = ("primary", "secondary", "other")
# API v2 recruitment statuses a site can have (the drop-down of the Sites sheet)
SITE_STATUSES = (
    "RECRUITING",
    "NOT_YET_RECRUITING",
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "ENROLLING_BY_INVITATION",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
)
PEOPLE_KINDS = ("contact", "official")
LINK = "LINK"  # the References type of a web page the registry lists (the others are API v2 reference types)
REFERENCE_TYPES = ("BACKGROUND", "RESULT", "DERIVED", LINK)
# the kinds of an Eligibility row: "unsplit" holds a criteria block that could not be split, whole (never an item)
INCLUSION, EXCLUSION, UNSPLIT = "inclusion", "exclusion", "unsplit"
CRITERIA_KINDS = (INCLUSION, EXCLUSION, UNSPLIT)
UNIT_WORDS = {code: word for word, code in UCUM.items()}  # UCUM code -> the word a coordinator reads
ID = 20  # the trial id column: "local-" ids are 18 characters, NCT numbers 11
# (header, width, style) per sheet: style "cell", "wrapped" (long text), "centered" (short numbers) or "text"
# (typed entries stay text, so a zip code or phone number keeps its leading zeros); a first column "key" is hidden.
SHEETS: dict[str, list[tuple[str, int, str]]] = {
    "Endpoints": [
        ("key", 14, "cell"),
        ("trial id", ID, "cell"),
        ("trial title", 40, "wrapped"),
        ("kind", 11, "cell"),
        ("order", 7, "centered"),
        ("measure", 45, "wrapped"),
        ("description", 60, "wrapped"),
        ("time frame", 30, "wrapped"),
        ("time frame kind", 12, "cell"),
        ("value", 8, "cell"),
        ("unit", 9, "cell"),
        ("UCUM", 7, "cell"),
        ("ISO 8601", 10, "cell"),
        ("anchor", 22, "wrapped"),
        ("conditions", 30, "wrapped"),
        ("interventions", 35, "wrapped"),
    ],
    "Trials": [
        ("trial id", ID, "cell"),
        ("title", 50, "wrapped"),
        ("official title", 50, "wrapped"),
        ("acronym", 12, "cell"),
        ("phases", 14, "cell"),
        ("status", 16, "cell"),
        ("why stopped", 30, "wrapped"),
        ("study type", 16, "cell"),
        ("sponsor", 30, "wrapped"),
        ("conditions", 30, "wrapped"),
        ("interventions", 35, "wrapped"),
        ("primary endpoints", 9, "centered"),
        ("secondary endpoints", 9, "centered"),
        ("other endpoints", 9, "centered"),
        ("CAR targets", 14, "cell"),
        ("age groups", 14, "wrapped"),
        ("observational model", 16, "cell"),
        ("time perspective", 16, "cell"),
        ("sampling method", 16, "wrapped"),
        ("study population", 45, "wrapped"),
        ("source", 40, "cell"),
    ],
    "Sites": [
        ("key", 14, "cell"),
        ("trial id", ID, "cell"),
        ("facility", 36, "wrapped"),
        ("city", 20, "wrapped"),
        ("state", 18, "wrapped"),
        ("zip", 10, "text"),
        ("country", 16, "cell"),
        ("status", 26, "cell"),
        ("contact name", 28, "wrapped"),
        ("contact role", 24, "cell"),
        ("phone", 22, "text"),
        ("e-mail", 34, "cell"),
        ("latitude", 10, "cell"),
        ("longitude", 10, "cell"),
    ],
    "People": [
        ("key", 14, "cell"),
        ("trial id", ID, "cell"),
        ("kind", 10, "cell"),
        ("name", 30, "wrapped"),
        ("role", 24, "cell"),
        ("affiliation", 40, "wrapped"),
        ("phone", 22, "text"),
        ("e-mail", 34, "cell"),
    ],
    "References": [
        ("key", 14, "cell"),
        ("trial id", ID, "cell"),
        ("type", 13, "cell"),
        ("PMID", 11, "text"),
        ("citation / label", 90, "wrapped"),
        ("url", 40, "cell"),
    ],
    "Eligibility": [
        ("key", 14, "cell"),
        ("trial id", ID, "cell"),
        ("kind", 11, "cell"),
        ("order", 7, "centered"),
        ("criterion", 110, "wrapped"),
    ],
    "Conditions": [
        ("trial id", ID, "cell"),
        ("#", 5, "centered"),
        ("condition", 40, "wrapped"),
        ("system", 36, "cell"),
        ("code", 12, "cell"),
        ("display", 40, "wrapped"),
        ("origin", 10, "cell"),
    ],
    "Interventions": [
        ("trial id", ID, "cell"),
        ("#", 5, "centered"),
        ("type", 14, "cell"),
        ("name", 45, "wrapped"),
        ("other names", 30, "wrapped"),
        ("arms", 30, "wrapped"),
        ("system", 30, "cell"),
        ("code", 12, "cell"),
        ("display", 30, "wrapped"),
        ("origin", 10, "cell"),
    ],
    "Issues": [
        ("trial id", ID, "cell"),
        ("level", 9, "cell"),
        ("code", 24, "cell"),
        ("field", 24, "cell"),
        ("message", 90, "wrapped"),
    ],
    "Overflow": [
        ("sheet", 14, "cell"),  # "Interventions"
        ("key", 29, "cell"),  # a trial id or a row's key: "local-" ids with a site contact's "#s12.3", and more
        ("column", 18, "cell"),
        ("part", 6, "cell"),
        ("text", 100, "wrapped"),
    ],
}
# the drop-down of a sheet: (column header, values, title, error, blank allowed)
CHOICES = {
    "Endpoints": ("kind", KINDS, "kind", "primary, secondary or other", False),
    "Sites": ("status", SITE_STATUSES, "site status", "an API v2 site status, e.g. RECRUITING", True),
    "People": ("kind", PEOPLE_KINDS, "kind", "contact or official", False),
    "References": ("type", REFERENCE_TYPES, "type", "BACKGROUND, RESULT, DERIVED or LINK (a web page)", True),
    "Eligibility": ("kind", CRITERIA_KINDS, "kind", "inclusion, exclusion, or unsplit (a block kept whole)", False),
}
REGISTRY_URL = "https://clinicaltrials.gov/study/"
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"
URL_LIMIT = 2_079  # characters Excel keeps in a hyperlink's address
MAX_LINES = 12  # a row shows at most this many lines; the cell holds all of the text
COMPRESSION = 3  # zlib level: on 150 MB of sheet XML 3 takes 0.60 s CPU (1: 0.53 s, 6: 1.48 s), 8% smaller than 1
# per sheet: (header, characters a line holds when the column wraps, else 0)
_LAYOUT = {
    name: tuple((header, max(1, int(width * 1.1)) if style == "wrapped" else 0) for header, width, style in columns)
    for name, columns in SHEETS.items()
}
# per sheet: (column, characters a line holds) of its wrapped columns
_WRAPPED = {name: tuple((i, n) for i, (_, n) in enumerate(layout) if n) for name, layout in _LAYOUT.items()}
# per sheet: the index of each column by its header
_COLUMN = {name: {header: i for i, (header, _, _) in enumerate(columns)} for name, columns in SHEETS.items()}
# sheets whose trial id links to the registry page
_LINKED = ("Endpoints", "Sites", "People", "References", "Eligibility")
_PMID, _URL = _COLUMN["References"]["PMID"], _COLUMN["References"]["url"]

# One row as ``render`` makes it: (sheet, row height in points or 0, hyperlinks as (column, URL) pairs in
# column order, cell values).
Row = tuple[str, float, tuple[tuple[int, str], ...], tuple[Any, ...]]
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


def _unit_words(value: float | list[float] | None, unit: str | None) -> str | None:
    """``a`` -> "years" ("year" for exactly one), as a coordinator reads a time frame's unit."""
    word = UNIT_WORDS.get(unit or "")
    if word is None:
        return unit
    return word if value == 1 else word + "s"


def _web(url: str | None) -> bool:
    """A URL a spreadsheet may open on a click: http(s) only, within Excel's address length."""
    return bool(url) and url.startswith(("https://", "http://")) and len(url) <= URL_LIMIT  # type: ignore[union-attr]


def _site_rows(rows: _Rows, trial_id: str, number: int, site: Location, links: tuple[tuple[int, str], ...]) -> None:
    """One row per contact of the site (its columns repeated), one row when it has none."""
    geo = site.geo
    where = [trial_id, site.facility, site.city, site.state, site.zip, site.country, site.status]
    at = [geo.lat if geo else None, geo.lon if geo else None]
    if not site.contacts:
        rows.add("Sites", [f"{trial_id}#s{number}", *where, None, None, None, None, *at], links)
        return
    for index, contact in enumerate(site.contacts, 1):
        person = _person(contact)
        rows.add("Sites", [f"{trial_id}#s{number}.{index}", *where, *person, *at], links)


def _criteria_rows(rows: _Rows, trial_id: str, eligibility: Eligibility, links: tuple[tuple[int, str], ...]) -> None:
    """One row per criterion, numbered within its kind; a block that could not be split (no items, but a block)
    is one "unsplit" row holding the whole block, so coordinators still see it."""
    for number, criterion in enumerate(eligibility.inclusion, 1):
        rows.add("Eligibility", [f"{trial_id}#i{number}", trial_id, INCLUSION, number, criterion], links)
    for number, criterion in enumerate(eligibility.exclusion, 1):
        rows.add("Eligibility", [f"{trial_id}#e{number}", trial_id, EXCLUSION, number, criterion], links)
    if eligibility.criteria and not eligibility.inclusion and not eligibility.exclusion:
        rows.add("Eligibility", [f"{trial_id}#u1", trial_id, UNSPLIT, None, eligibility.criteria], links)


def _person(contact: Contact) -> list[str | None]:
    return [contact.name, contact.role, contact.phone, contact.email]


class _Rows:
    """The rows of one trial, each fitted to the format: text past the cell limit moves to the Overflow
    sheet, characters XML cannot hold are dropped, and both are noted on the Issues sheet."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.moved = 0
        self.dropped = 0

    def add(self, sheet: str, values: list[Any], links: tuple[tuple[int, str], ...] = ()) -> None:
        """A row of ``sheet``; its key (for Overflow and Issues) is the first value of a sheet keyed by
        row, else the trial id."""
        texts = "".join([v for v in values if type(v) is str])  # one look at the row for what needs a fix
        if len(texts) > CELL_LIMIT or ILLEGAL.search(texts):
            self._fix(sheet, values)
        lines = 1
        for i, per_line in _WRAPPED[sheet]:
            value = values[i]
            if type(value) is str and (len(value) > per_line or "\n" in value):
                lines = max(lines, _lines(value, per_line))
        # wrapped text needs a row tall enough to show it (readers do not size rows by themselves)
        self.rows.append((sheet, 15 * min(lines, MAX_LINES) if lines > 1 else 0, links, tuple(values)))

    def _fix(self, sheet: str, values: list[Any]) -> None:
        key = values[0] if sheet != "Overflow" else values[1]
        for i, (header, _) in enumerate(_LAYOUT[sheet]):
            value = values[i]
            if type(value) is not str:
                continue
            if ILLEGAL.search(value):
                value = values[i] = self._drop(value, sheet, key, header)
            if len(value) > CELL_LIMIT:
                values[i] = self._fit(value, sheet, key, header)

    def _issue(self, key: str, level: str, code: str, field: str, message: str) -> None:
        self.add("Issues", [key.split("#")[0], level, code, field, message])

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
            self.add("Overflow", [sheet, key, column, part, value[start : start + limit]])
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
            Column(header, width, style, hidden=i == 0 and header == "key")
            for i, (header, width, style) in enumerate(SHEETS[name])
        ]
        self.parts: list[Sheet] = []
        self.part: Sheet | None = None
        self._new_part()

    def _new_part(self) -> None:
        number = len(self.parts) + 1
        title = self.name if number == 1 else f"{self.name} ({number})"
        choice = None
        if self.name in CHOICES:
            header, values, what, error, blank = CHOICES[self.name]
            column = [c.header for c in self.columns].index(header)
            choice = ListValidation(column, values, what, error, ROW_LIMIT, blank)
        self.part = self.book.add_sheet(
            title[:31],
            self.columns,
            table=f"{self.name}{number}".replace(" ", ""),
            validation=choice,
            header_height=30,  # two lines for long headers
            after=self.part,
        )
        self.parts.append(self.part)

    def append(self, values: tuple[Any, ...], height: float, links: tuple[tuple[int, str], ...]) -> None:
        """One row; ``links``: (column, URL) pairs making those cells hyperlinks."""
        assert self.part is not None
        if self.part.rows >= ROW_LIMIT:
            self._new_part()
        self.part.append(values, height, links)

    @property
    def links_left_out(self) -> int:
        return sum(part.links_left_out for part in self.parts)


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
        tid = trial.id
        conditions = _join([c.name for c in trial.conditions])
        interventions = _join([f"{i.type}: {i.name}" if i.type else i.name for i in trial.interventions])
        url = REGISTRY_URL + tid if tid.startswith("NCT") else None
        link = {name: ((_COLUMN[name]["trial id"], url),) for name in _LINKED} if url else dict.fromkeys(_LINKED, ())
        order = dict.fromkeys(KINDS, 0)
        for outcome in trial.outcomes:
            order[outcome.kind] += 1
            tf = outcome.time_frame
            row = [
                f"{tid}#{outcome.kind[0]}{order[outcome.kind]}",
                tid,
                trial.title,
                outcome.kind,
                order[outcome.kind],
                outcome.measure,
                outcome.description,
            ]
            if tf:
                row += [tf.text, tf.kind, _number(tf.value), _unit_words(tf.value, tf.unit), tf.unit, tf.iso8601]
                row.append(tf.anchor)
            else:
                row += [None, None, None, None, None, None, None]
            rows.add("Endpoints", [*row, conditions, interventions], link["Endpoints"])
        counts = {kind: sum(o.kind == kind for o in trial.outcomes) for kind in KINDS}
        targets = _join([c.display or c.code for c in trial.cell_therapy.targets]) if trial.cell_therapy else None
        design, eligibility = trial.design, trial.eligibility
        rows.add(
            "Trials",
            [
                tid,
                trial.title,
                trial.official_title,
                trial.acronym,
                ", ".join(trial.phases),
                trial.status,
                trial.why_stopped,
                trial.study_type,
                trial.sponsor,
                conditions,
                interventions,
                counts["primary"],
                counts["secondary"],
                counts["other"],
                targets,
                ", ".join(eligibility.std_ages) if eligibility else None,
                design.observational_model if design else None,
                design.time_perspective if design else None,
                eligibility.sampling_method if eligibility else None,
                eligibility.study_population if eligibility else None,
                trial.source.path if trial.source else None,
            ],
        )
        for number, site in enumerate(trial.locations, 1):
            _site_rows(rows, tid, number, site, link["Sites"])
        for number, contact in enumerate(trial.contacts, 1):
            person = _person(contact)
            rows.add("People", [f"{tid}#c{number}", tid, "contact", *person[:2], None, *person[2:]], link["People"])
        for number, official in enumerate(trial.officials, 1):
            row = [f"{tid}#o{number}", tid, "official", official.name, official.role, official.affiliation]
            rows.add("People", [*row, None, None], link["People"])
        for number, reference in enumerate(trial.references, 1):
            pmid = reference.pmid
            pubmed = ((_PMID, PUBMED_URL + pmid + "/"),) if pmid and pmid.isdigit() else ()
            row = [f"{tid}#r{number}", tid, reference.type, pmid, reference.citation, None]
            rows.add("References", row, link["References"] + pubmed)
        for number, web in enumerate(trial.links, 1):
            page = ((_URL, web.url),) if _web(web.url) else ()
            rows.add("References", [f"{tid}#l{number}", tid, LINK, None, web.label, web.url], link["References"] + page)
        if eligibility:
            _criteria_rows(rows, tid, eligibility, link["Eligibility"])
        for number, condition in enumerate(trial.conditions, 1):
            for code in condition.codes or [None]:
                rows.add(
                    "Conditions",
                    [
                        tid,
                        number,
                        condition.name,
                        code.system if code else None,
                        code.code if code else None,
                        code.display if code else None,
                        code.origin if code else None,
                    ],
                )
        for number, intervention in enumerate(trial.interventions, 1):
            for code in intervention.codes + intervention.targets or [None]:
                rows.add(
                    "Interventions",
                    [
                        tid,
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
                )
        for d in trial.diagnostics:
            rows.add("Issues", [tid, d.level, d.code, d.field, d.message])
        return (trial.source.path if trial.source else None, rows.moved, rows.dropped, tuple(rows.rows))

    def write_rendered(self, rendered: Rendered) -> None:
        source, moved, dropped, rows = rendered
        if source:
            self.inputs.add(source)
        sheets = self.sheets
        for sheet, height, links, values in rows:
            sheets[sheet].append(values, height, links)
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
            ("edit", "change text; add, delete and sort rows of Endpoints, Sites, People, References and Eligibility"),
            ("keys", "keep the hidden key column (A): it says which endpoint, site, person or criterion a row is"),
        ):
            about.append(line)
        unlinked = sum(sheet.links_left_out for sheet in self.sheets.values())
        self.book.save(self.file.file)
        if unlinked:
            self.summary.notes.append(
                f"{unlinked} cells past Excel's {MAX_LINKS:,} hyperlinks a sheet: written as plain text, without a link"
            )
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
