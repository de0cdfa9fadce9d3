"""The streaming .xlsx writer: what it writes opens in openpyxl and python-calamine without a warning, every
package part is declared and every relationship resolves (Excel refuses a file otherwise), text comes back
exactly, and memory does not grow with the number of rows."""

from __future__ import annotations

import posixpath
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import defusedxml.ElementTree as ET
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from trialport import spreadsheet
from trialport.spreadsheet import Column, ListValidation, Workbook, column_letter

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
RID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
TEXTS = ["<b>&amp;</b>", "  leading and trailing  ", "line\nbreak", "cr\rhere", "tab\there", "=1+1", "émigré ✓ 𝄞"]


def build(tmp_path: Path) -> Path:
    book = Workbook(tmp_path, creator="test")
    columns = [Column("id", 12, hidden=True), Column("text", 40, "wrapped"), Column("number", 8)]
    first = book.add_sheet(
        "Data", columns, table="Data1", validation=ListValidation(2, ("a", "b"), "pick", "a or b"), header_height=30
    )
    for i, text in enumerate(TEXTS):
        first.append(
            (f"r{i}", text, i + 0.5), height=45 if "\n" in text else 0, links=((0, f"https://example.org/?q={i}&x=<"),)
        )
    first.append(("bad", "a\x01b\x0bc\ufffe", None))
    first.append(("nums", "", float("inf")))
    book.add_sheet("Notes", [Column("", 10, "normal"), Column("", 50, "normal"), Column("", 5)], header=False).append(
        ("k", 1, True)
    )
    second = book.add_sheet(
        "Data (2)",
        [*columns[:2], Column("zip", 8, "text")],
        table="Data2",
        validation=ListValidation(1, ("x", "y"), "pick", "x or y", allow_blank=True),
        after=first,
    )
    second.append(("x", "it's", "00128"), links=((0, "https://example.org/a"), (2, "https://example.org/b")))
    second.append(("y", None, "000144"))
    path = tmp_path / "out.xlsx"
    with open(path, "wb") as handle:
        book.save(handle)
    assert not [p for p in tmp_path.iterdir() if p != path]  # temporary files are gone
    return path


def test_parts_are_declared_and_relationships_resolve(tmp_path):
    path = build(tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        parts = {name: ET.fromstring(zf.read(name)) for name in names}  # every part is well-formed XML
    declared = {o.get("PartName").lstrip("/") for o in parts["[Content_Types].xml"] if o.get("PartName")}
    assert declared == {n for n in names if not n.endswith(".rels") and n != "[Content_Types].xml"}
    for name in [n for n in names if n.endswith(".rels")]:
        base = name.replace("_rels/", "").removesuffix(".rels")
        folder = base.rsplit("/", 1)[0] + "/" if "/" in base else ""
        rels = {r.get("Id"): r for r in parts[name].iter(f"{REL}Relationship")}
        assert len(rels) == len(list(parts[name])), name  # ids unique
        for rel in rels.values():
            if rel.get("TargetMode") != "External":
                target = posixpath.normpath(folder + rel.get("Target"))
                assert target in names, (name, target)
        if base in parts:  # every r:id a part uses is one of its relationships
            used = {e.get(RID) for e in parts[base].iter() if e.get(RID)}
            assert used <= set(rels), base
    workbook = parts["xl/workbook.xml"]
    assert [s.get("name") for s in workbook.iter(f"{MAIN}sheet")] == ["Data", "Data (2)", "Notes"]
    tables = [parts[f"xl/tables/table{i}.xml"] for i in (1, 2)]
    assert [t.get("displayName") for t in tables] == ["Data1", "Data2"] and [t.get("id") for t in tables] == ["1", "2"]
    assert [c.get("name") for c in tables[0].iter(f"{MAIN}tableColumn")] == ["id", "text", "number"]
    assert tables[0].get("ref") == f"A1:C{len(TEXTS) + 3}" and tables[1].get("ref") == "A1:C3"


def test_opens_in_openpyxl_and_calamine_without_warnings_with_text_exact(tmp_path):
    path = build(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        book = openpyxl.load_workbook(path)
        values = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Data").to_python()
    sheet = book["Data"]
    assert [sheet.cell(row=r, column=2).value for r in range(2, len(TEXTS) + 2)] == TEXTS
    assert [row[1] for row in values[1 : len(TEXTS) + 1]] == TEXTS
    assert all(sheet.cell(row=r, column=2).data_type == "s" for r in range(2, len(TEXTS) + 2))
    assert sheet.cell(row=len(TEXTS) + 2, column=2).value == "abc"  # characters XML cannot hold are dropped
    assert sheet.cell(row=len(TEXTS) + 3, column=3).value == "inf"  # not a number Excel can hold: text
    assert sheet.cell(row=len(TEXTS) + 3, column=2).value is None  # empty text: a blank cell
    assert sheet["C2"].value == 0.5 and book["Notes"]["B1"].value == 1 and book["Notes"]["C1"].value is True
    assert sheet.freeze_panes == "A2" and book["Notes"].freeze_panes is None
    assert sheet.column_dimensions["A"].hidden and sheet.column_dimensions["B"].width == 40
    assert sheet.row_dimensions[1].height == 30 and sheet.row_dimensions[4].height == 45
    assert sheet["A1"].font.b and sheet["A1"].fill.fgColor.rgb == "FF1F4E78"
    assert sheet["B2"].alignment.wrap_text and sheet["B2"].alignment.vertical == "top"
    assert sheet["A2"].hyperlink.target == "https://example.org/?q=0&x=<" and sheet["A2"].style == "link"
    assert sheet["B2"].hyperlink is None and sheet["A3"].hyperlink.target.endswith("q=1&x=<")
    (validation,) = sheet.data_validations.dataValidation
    assert (validation.formula1, str(validation.sqref)) == ('"a,b"', "C2:C1048576")
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
    second = book["Data (2)"]
    assert second["B2"].value == "it's" and second["C3"].value == "000144" and second["C3"].data_type == "s"
    assert second["C3"].number_format == "@" and int(second.column_dimensions["C"].style) == spreadsheet.STYLES["text"]
    assert [second[c].hyperlink.target for c in ("A2", "C2")] == ["https://example.org/a", "https://example.org/b"]
    assert second["A2"].style == second["C2"].style == "link" and second["B2"].hyperlink is None
    (blank,) = second.data_validations.dataValidation
    assert blank.allow_blank and not validation.allow_blank


def test_memory_stays_flat_in_the_number_of_rows(tmp_path):
    def peak(rows: int) -> int:
        book = Workbook(tmp_path / str(rows))
        (tmp_path / str(rows)).mkdir()
        sheet = book.add_sheet("S", [Column("a", 10), Column("b", 40, "wrapped"), Column("n", 5)], table="S1")
        tracemalloc.start()
        for i in range(rows):
            sheet.append((f"row {i}", f"distinct text number {i} " * 4, i))
        with open(tmp_path / f"{rows}.xlsx", "wb") as handle:
            book.save(handle)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    small, large = peak(3_000), peak(30_000)
    assert large < small + 1_000_000, (small, large)  # ten times the rows, not ten times the memory


def test_links_past_what_excel_keeps_on_a_sheet_are_left_out_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_LINKS", 3)
    book = Workbook(tmp_path)
    sheet = book.add_sheet("S", [Column("id", 10), Column("url", 20)], table="S1")
    for i in range(3):
        sheet.append((f"r{i}", "u"), links=((0, f"https://example.org/{i}"), (1, "https://example.org/u")))
    path = tmp_path / "out.xlsx"
    with open(path, "wb") as handle:
        book.save(handle)
    assert (sheet.links, sheet.links_left_out) == (3, 3)
    opened = openpyxl.load_workbook(path)["S"]
    assert [opened[c].hyperlink.target if opened[c].hyperlink else None for c in ("A2", "B2", "A3", "B3", "A4")] == [
        "https://example.org/0",
        "https://example.org/u",
        "https://example.org/1",
        None,
        None,
    ]
    assert opened["B3"].style == opened["A4"].style == "cell" and opened["A4"].value == "r2"  # plain, text kept


def test_column_letters():
    assert [column_letter(n) for n in (1, 26, 27, 52, 703, 16_384)] == ["A", "Z", "AA", "AZ", "AAA", "XFD"]


def test_a_drop_down_longer_than_excel_takes_is_refused(tmp_path):
    book = Workbook(tmp_path)
    values = tuple(f"VALUE_{i:02}" for i in range(30))  # 30 x 8 characters and 29 commas: 269
    with pytest.raises(ValueError, match="longer than Excel's 255 characters"):
        book.add_sheet("S", [Column("a", 10)], validation=ListValidation(0, values, "pick", "one of them"))
    book.add_sheet("T", [Column("a", 10)], validation=ListValidation(0, values[:28], "pick", "one of them"))  # 251
    book.discard()
