"""A streaming SpreadsheetML (.xlsx) writer: memory stays flat however many rows come.

Each sheet's rows go to a temporary file as they arrive (hyperlinks to two more); ``save`` puts the zip
together. Text is written as inline strings, so it is never taken for a formula and no shared-string
table grows in memory. Characters XML 1.0 cannot hold are dropped here as a last guard (callers that
must report such changes find them first with ``ILLEGAL``). Callers keep text within ``CELL_LIMIT``.

A sheet may carry: an Excel Table (filters, banded rows) over its rows, a frozen header row, column
widths and hidden columns, a style per column (wrapped text, top alignment), row heights, one list
validation, hyperlinks (Excel holds at most ``MAX_LINKS`` a sheet: past that a cell is plain text, counted
in ``links_left_out``), and a landscape fit-to-width print setup with the header repeated on each page.
A "text" column is formatted as text (``@``), so what a user types there (a zip code, a phone number)
stays text and keeps its leading zeros; a "centered" column suits short numbers (an order, a count).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

CELL_LIMIT = 32_767
MAX_ROWS = 1_048_576
MAX_LINKS = 65_530  # hyperlinks Excel keeps on one worksheet
LIST_LIMIT = 255  # characters of a drop-down's values, joined by commas, that Excel accepts
# cell styles (named, so they show in Excel's style gallery); the number is the cellXfs index
STYLES = {"normal": 0, "cell": 1, "wrapped": 2, "link": 3, "header": 4, "text": 5, "centered": 6}
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FLUSH = 1 << 20  # characters buffered before a write to the sheet's temporary file
_ZIP64 = 1 << 31  # a part this large needs zip64 headers

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml."


def escape(text: str) -> str:
    """Text as XML element content: markup escaped, a carriage return kept (as a character reference, since
    XML readers turn a literal one into a line feed), characters XML 1.0 cannot hold dropped."""
    if _SPECIAL.search(text) is None:
        return text
    text = ILLEGAL.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;")


def _quoted(title: str) -> str:
    """A sheet name as a formula refers to it."""
    return escape("'" + title.replace("'", "''") + "'")


def column_letter(number: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    style: str = "cell"
    hidden: bool = False


@dataclass(frozen=True)
class ListValidation:
    """A drop-down on one column (index from 0), from the second row to ``last_row``; other values are refused
    (a blank cell too, unless ``allow_blank``)."""

    column: int
    values: tuple[str, ...]
    title: str
    error: str
    last_row: int = MAX_ROWS
    allow_blank: bool = False


class Sheet:
    """One worksheet being written: ``append`` a row at a time."""

    def __init__(
        self,
        book: Workbook,
        title: str,
        columns: list[Column],
        table: str | None,
        validation: ListValidation | None,
        header: bool,
        header_height: float,
    ) -> None:
        if len(title) > 31 or any(c in title for c in "[]:*?/\\"):
            raise ValueError(f"not a valid sheet name: {title!r}")
        if validation and len(",".join(validation.values)) > LIST_LIMIT:
            raise ValueError(f"the drop-down of sheet {title!r} is longer than Excel's {LIST_LIMIT} characters")
        self.book, self.title, self.columns = book, title, columns
        self.table, self.validation = table, validation
        self.rows = 0
        self.links = 0
        self.links_left_out = 0
        self.header = header
        self._data: IO[bytes] = tempfile.TemporaryFile(dir=book.scratch)  # noqa: SIM115  (closed in save/discard)
        self._hyperlinks: IO[bytes] | None = None
        self._rels: IO[bytes] | None = None
        self._buffer: list[str] = []
        self._size = 0
        # the fixed parts of each cell's XML, per column; with a link, that column uses the link style
        letters = [column_letter(i) for i in range(1, len(columns) + 1)]
        self._letters = letters
        self._cells = self._cell_parts([STYLES[c.style] for c in columns])
        self._link_cells: dict[tuple[int, ...], tuple[list[str], list[str], list[str], list[str]]] = {}
        if header:
            cells = self._cell_parts([STYLES["header"]] * len(columns))
            self._write_row([c.header for c in columns], header_height, cells)

    def _cell_parts(self, styles: list[int]) -> tuple[list[str], list[str], list[str], list[str]]:
        starts = [f'<c r="{letter}' for letter in self._letters]
        text = [f'" s="{s}" t="inlineStr"><is><t xml:space="preserve">' for s in styles]
        number = [f'" s="{s}"><v>' for s in styles]
        empty = [f'" s="{s}"/>' for s in styles]
        return starts, text, number, empty

    def append(
        self, values: list[Any] | tuple[Any, ...], height: float = 0, links: tuple[tuple[int, str], ...] = ()
    ) -> int:
        """Write one row (``None`` or "" leaves a cell blank, keeping its column's style); ``height`` in points
        (0: the default); ``links``: (column index from 0, URL) pairs, in column order, each making that cell a
        hyperlink. Returns the row number."""
        if self.rows >= MAX_ROWS:
            raise ValueError(f"sheet {self.title!r} is full ({MAX_ROWS:,} rows)")
        if len(values) > len(self.columns):
            raise ValueError(f"{len(values)} values for the {len(self.columns)} columns of sheet {self.title!r}")
        if not links:
            return self._write_row(values, height, self._cells)
        if self.links + len(links) > MAX_LINKS:  # Excel would drop them: the cells stay plain text
            kept = max(0, MAX_LINKS - self.links)
            self.links_left_out += len(links) - kept
            links = links[:kept]
            if not links:
                return self._write_row(values, height, self._cells)
        columns = tuple(column for column, _ in links)
        row = self._write_row(values, height, self._link_cells.get(columns) or self._link_cell_parts(columns))
        for column, url in links:
            self._link(f"{self._letters[column]}{row}", url)
        return row

    def _link_cell_parts(self, columns: tuple[int, ...]) -> tuple[list[str], list[str], list[str], list[str]]:
        styles = [STYLES[c.style] for c in self.columns]
        for column in columns:
            styles[column] = STYLES["link"]
        self._link_cells[columns] = parts = self._cell_parts(styles)
        return parts

    def _write_row(self, values: Any, height: float, cells: tuple[list[str], list[str], list[str], list[str]]) -> int:
        self.rows += 1
        r = str(self.rows)
        starts, text, number, empty = cells
        out = [f'<row r="{r}" ht="{height:g}" customHeight="1">' if height else f'<row r="{r}">']
        plain = _SPECIAL.search("".join([v for v in values if type(v) is str])) is None  # one look at the row
        for i, value in enumerate(values):
            kind = type(value)
            if kind is str and value:
                out.append(f"{starts[i]}{r}{text[i]}{value if plain else escape(value)}</t></is></c>")
            elif value is None or kind is str:  # empty text is a blank cell, as Excel's filters expect
                out.append(f"{starts[i]}{r}{empty[i]}")
            elif kind is int or (kind is float and math.isfinite(value)):
                out.append(f"{starts[i]}{r}{number[i]}{value!r}</v></c>")
            elif kind is bool:
                out.append(f'{starts[i]}{r}{number[i][:-4]} t="b"><v>{int(value)}</v></c>')
            else:
                out.append(f"{starts[i]}{r}{text[i]}{escape(str(value))}</t></is></c>")
        out.append("</row>")
        line = "".join(out)
        self._buffer.append(line)
        self._size += len(line)
        if self._size > _FLUSH:
            self._flush()
        return self.rows

    def _flush(self) -> None:
        self._data.write("".join(self._buffer).encode("utf-8"))
        self._buffer.clear()
        self._size = 0

    def _link(self, ref: str, url: str) -> None:
        if self._hyperlinks is None:
            self._hyperlinks = tempfile.TemporaryFile(dir=self.book.scratch)  # noqa: SIM115
            self._rels = tempfile.TemporaryFile(dir=self.book.scratch)  # noqa: SIM115
        assert self._rels is not None
        self.links += 1
        rid = f"rId{self.links + 1}"  # rId1 is the table's
        self._hyperlinks.write(f'<hyperlink ref="{ref}" r:id="{rid}"/>'.encode())
        self._rels.write(
            f'<Relationship Id="{rid}" Type="{_R}/hyperlink" Target={quoteattr(url)} TargetMode="External"/>'.encode()
        )

    @property
    def ref(self) -> str:
        """The range the rows cover (at least two rows, so a table always has a body)."""
        return f"A1:{self._letters[-1]}{max(self.rows, 2)}"

    def _save(self, zf: zipfile.ZipFile, number: int, table_id: int | None, selected: bool) -> None:
        self._flush()
        head = [_XML, f'<worksheet xmlns="{_MAIN}" xmlns:r="{_R}">']
        head.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        head.append(f'<dimension ref="A1:{self._letters[-1]}{max(self.rows, 1)}"/>')
        view = '<sheetView tabSelected="1" workbookViewId="0"' if selected else '<sheetView workbookViewId="0"'
        if self.header:
            head.append(
                f'<sheetViews>{view}><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            )
        else:
            head.append(f"<sheetViews>{view}/></sheetViews>")
        head.append('<sheetFormatPr defaultRowHeight="15"/><cols>')
        for i, column in enumerate(self.columns, 1):
            hidden = ' hidden="1"' if column.hidden else ""
            style = f' style="{STYLES["text"]}"' if column.style == "text" else ""  # new cells typed there: text
            head.append(f'<col min="{i}" max="{i}" width="{column.width:g}"{style} customWidth="1"{hidden}/>')
        head.append("</cols><sheetData>")
        tail = ["</sheetData>"]
        if self.validation:
            v, letter = self.validation, self._letters[self.validation.column]
            tail.append(
                f'<dataValidations count="1"><dataValidation type="list" allowBlank="{int(v.allow_blank)}"'
                ' showErrorMessage="1"'
                f" errorTitle={quoteattr(v.title)} error={quoteattr(v.error)}"
                f' sqref="{letter}2:{letter}{v.last_row}"><formula1>&quot;{escape(",".join(v.values))}&quot;'
                "</formula1></dataValidation></dataValidations>"
            )
        parts: list[str | IO[bytes]] = ["".join(head), self._data, "".join(tail)]
        if self._hyperlinks is not None:
            parts += ["<hyperlinks>", self._hyperlinks, "</hyperlinks>"]
        tail = ['<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>']
        tail.append('<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>')
        if table_id is not None:
            tail.append('<tableParts count="1"><tablePart r:id="rId1"/></tableParts>')
        tail.append("</worksheet>")
        parts.append("".join(tail))
        _write_part(zf, f"xl/worksheets/sheet{number}.xml", parts)
        if table_id is not None or self._rels is not None:
            rels: list[str | IO[bytes]] = [_XML, f'<Relationships xmlns="{_PKG}">']
            if table_id is not None:
                rels.append(f'<Relationship Id="rId1" Type="{_R}/table" Target="../tables/table{table_id}.xml"/>')
            if self._rels is not None:
                rels.append(self._rels)
            rels.append("</Relationships>")
            _write_part(zf, f"xl/worksheets/_rels/sheet{number}.xml.rels", rels)
        if table_id is not None:
            _write_part(zf, f"xl/tables/table{table_id}.xml", [self._table_xml(table_id)])

    def _table_xml(self, table_id: int) -> str:
        name = quoteattr(self.table or "")
        columns = "".join(f'<tableColumn id="{i}" name={quoteattr(c.header)}/>' for i, c in enumerate(self.columns, 1))
        return (
            f'{_XML}<table xmlns="{_MAIN}" id="{table_id}" name={name} displayName={name} ref="{self.ref}"'
            f' totalsRowShown="0"><autoFilter ref="{self.ref}"/><tableColumns count="{len(self.columns)}">'
            f'{columns}</tableColumns><tableStyleInfo name="TableStyleMedium2" showFirstColumn="0"'
            ' showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>'
        )

    def _discard(self) -> None:
        for handle in (self._data, self._hyperlinks, self._rels):
            if handle is not None:
                handle.close()


def _write_part(zf: zipfile.ZipFile, name: str, parts: list[str | IO[bytes]]) -> None:
    """One zip member from strings and temporary files (copied in chunks, never read whole)."""
    size = sum(p.tell() if not isinstance(p, str) else len(p) * 4 for p in parts)
    with zf.open(name, "w", force_zip64=size >= _ZIP64) as out:
        for part in parts:
            if isinstance(part, str):
                out.write(part.encode("utf-8"))
            else:
                part.flush()
                part.seek(0)
                shutil.copyfileobj(part, out, 1 << 20)


class _Zip(zipfile.ZipFile):
    """A zip whose members all carry the zip epoch as their date, so the same workbook is the same bytes."""

    def _member(self, name: str | zipfile.ZipInfo) -> str | zipfile.ZipInfo:
        if isinstance(name, zipfile.ZipInfo):
            return name
        info = zipfile.ZipInfo(name, _ZIP_EPOCH)
        info.compress_type = self.compression
        info._compresslevel = self.compresslevel  # type: ignore[attr-defined]
        return info

    def writestr(self, name: str | zipfile.ZipInfo, data: str | bytes, *args: Any, **kwargs: Any) -> None:
        info = self._member(name)
        if not isinstance(name, zipfile.ZipInfo):
            info.external_attr = 0o600 << 16  # type: ignore[union-attr]  (as ZipFile gives a member named by a string)
        super().writestr(info, data, *args, **kwargs)

    def open(self, name: str | zipfile.ZipInfo, mode: str = "r", *args: Any, **kwargs: Any) -> IO[bytes]:
        return super().open(self._member(name) if mode == "w" else name, mode, *args, **kwargs)


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class Workbook:
    """Sheets in the order added (or placed ``after`` another); ``save`` writes the .xlsx to a file."""

    def __init__(
        self, scratch: Path, compresslevel: int = 1, creator: str = "", created: datetime | None = None
    ) -> None:
        self.scratch, self.compresslevel, self.creator = Path(scratch), compresslevel, creator
        self.created = created or datetime.now(UTC)  # docProps; zip members carry a fixed date, for equal bytes
        self.sheets: list[Sheet] = []

    def add_sheet(
        self,
        title: str,
        columns: list[Column],
        *,
        table: str | None = None,
        validation: ListValidation | None = None,
        header: bool = True,
        header_height: float = 0,
        after: Sheet | None = None,
    ) -> Sheet:
        """``table`` names an Excel Table over the sheet (needs ``header``); a header row is frozen."""
        if table and not header:
            raise ValueError("a table needs a header row")
        sheet = Sheet(self, title, columns, table, validation, header, header_height)
        self.sheets.insert(self.sheets.index(after) + 1 if after is not None else len(self.sheets), sheet)
        return sheet

    def save(self, file: IO[bytes]) -> None:
        with _Zip(file, "w", zipfile.ZIP_DEFLATED, compresslevel=self.compresslevel) as zf:
            tables = [s for s in self.sheets if s.table]
            overrides = [("/xl/workbook.xml", _CT + "sheet.main+xml"), ("/xl/styles.xml", _CT + "styles+xml")]
            overrides += [
                (f"/xl/worksheets/sheet{i}.xml", _CT + "worksheet+xml") for i in range(1, len(self.sheets) + 1)
            ]
            overrides += [(f"/xl/tables/table{i}.xml", _CT + "table+xml") for i in range(1, len(tables) + 1)]
            overrides += [
                ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
                ("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml"),
            ]
            zf.writestr(
                "[Content_Types].xml",
                f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
                + "</Types>",
            )
            zf.writestr(
                "_rels/.rels",
                f'{_XML}<Relationships xmlns="{_PKG}">'
                f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/>'
                f'<Relationship Id="rId2" Type="{_PKG}/metadata/core-properties" Target="docProps/core.xml"/>'
                f'<Relationship Id="rId3" Type="{_R}/extended-properties" Target="docProps/app.xml"/>'
                "</Relationships>",
            )
            zf.writestr("docProps/core.xml", self._core())
            zf.writestr(
                "docProps/app.xml",
                f'{_XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
                f"<Application>{escape(self.creator)}</Application></Properties>",
            )
            zf.writestr("xl/workbook.xml", self._workbook_xml())
            zf.writestr(
                "xl/_rels/workbook.xml.rels",
                f'{_XML}<Relationships xmlns="{_PKG}">'
                + "".join(
                    f'<Relationship Id="rId{i}" Type="{_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                    for i in range(1, len(self.sheets) + 1)
                )
                + f'<Relationship Id="rId{len(self.sheets) + 1}" Type="{_R}/styles" Target="styles.xml"/>'
                "</Relationships>",
            )
            zf.writestr("xl/styles.xml", STYLES_XML)
            table_id = 0
            for number, sheet in enumerate(self.sheets, 1):
                if sheet.table:
                    table_id += 1
                sheet._save(zf, number, table_id if sheet.table else None, selected=number == 1)
        self.discard()

    def _workbook_xml(self) -> str:
        sheets = "".join(
            f'<sheet name={quoteattr(s.title)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(self.sheets, 1)
        )
        titles = "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">{_quoted(s.title)}!$1:$1</definedName>'
            for i, s in enumerate(self.sheets)
            if s.header
        )
        names = f"<definedNames>{titles}</definedNames>" if titles else ""
        return (
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_R}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>{names}'
            '<calcPr calcId="191029"/></workbook>'
        )

    def _core(self) -> str:
        now = self.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"{_XML}<cp:coreProperties"
            ' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{escape(self.creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
            "</cp:coreProperties>"
        )

    def discard(self) -> None:
        """Close and remove every temporary file (also after ``save``)."""
        for sheet in self.sheets:
            sheet._discard()


_FONT = '<sz val="11"/>{}<name val="Calibri"/><family val="2"/>'
_FONTS = (
    _FONT.format(""),
    "<b/>" + _FONT.format('<color rgb="FFFFFFFF"/>'),
    "<u/>" + _FONT.format('<color rgb="FF0563C1"/>'),
)
_TOP = '<alignment vertical="top"/>'
_TEXT = 49  # the built-in number format "@": text
_XFS = [  # (font, fill, alignment, number format) for normal, cell, wrapped, link, header, text, centered
    (0, 0, "", 0),
    (0, 0, _TOP, 0),
    (0, 0, '<alignment vertical="top" wrapText="1"/>', 0),
    (2, 0, _TOP, 0),
    (1, 2, '<alignment vertical="center" wrapText="1"/>', 0),
    (0, 0, _TOP, _TEXT),
    (0, 0, '<alignment horizontal="center" vertical="top"/>', 0),
]


def _xf(font: int, fill: int, alignment: str, number_format: int, style: int | None) -> str:
    applied = (' applyFont="1"' if font else "") + (' applyFill="1"' if fill else "")
    applied += ' applyAlignment="1"' if alignment else ""
    applied += ' applyNumberFormat="1"' if number_format else ""
    parent = f' xfId="{style}"' if style is not None else ""
    return (
        f'<xf numFmtId="{number_format}" fontId="{font}" fillId="{fill}" borderId="0"{parent}{applied}>{alignment}</xf>'
    )


def _cell_style(name: str, number: int) -> str:
    if number == 0:
        return '<cellStyle name="Normal" xfId="0" builtinId="0"/>'
    return f'<cellStyle name="{name}" xfId="{number}"/>'


STYLES_XML = (
    f'{_XML}<styleSheet xmlns="{_MAIN}"><fonts count="{len(_FONTS)}">'
    + "".join(f"<font>{font}</font>" for font in _FONTS)
    + '</fonts><fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FF1F4E78"/><bgColor indexed="64"/></patternFill></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    f'<cellStyleXfs count="{len(_XFS)}">{"".join(_xf(*xf, None) for xf in _XFS)}</cellStyleXfs>'
    f'<cellXfs count="{len(_XFS)}">{"".join(_xf(*xf, i) for i, xf in enumerate(_XFS))}</cellXfs>'
    f'<cellStyles count="{len(STYLES)}">{"".join(_cell_style(n, i) for n, i in STYLES.items())}</cellStyles>'
    '<dxfs count="0"/>'
    '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
    "</styleSheet>"
)
