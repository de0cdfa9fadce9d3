"""The endpoints workbook: read back with an independent reader (python-calamine) cell by cell, safe
against formula injection, within Excel's limits without losing text, and back in after edits."""

from __future__ import annotations

import pickle
import warnings

import openpyxl
import pytest
from conftest import CTGOV, SEEDS
from python_calamine import CalamineWorkbook

from trialport import pipeline
from trialport.exporters import xlsx as xlsx_exporter
from trialport.model import Outcome, Trial
from trialport.readers.base import Rejection


def export(paths, out) -> tuple[CalamineWorkbook, object]:
    report = pipeline.convert(paths, out, ["xlsx"])
    return CalamineWorkbook.from_path(str(out / "endpoints.xlsx")), report


def rows(workbook: CalamineWorkbook, sheet: str) -> list[list]:
    return workbook.get_sheet_by_name(sheet).to_python()


def open_for_editing(path):
    """The workbook as a coordinator opens it: its Endpoints sheet, column numbers by header, rows by measure."""
    book = openpyxl.load_workbook(path)
    sheet = book["Endpoints"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header}
    by_measure = {sheet.cell(row=r, column=col["measure"]).value: r for r in range(2, sheet.max_row + 1)}
    return book, sheet, col, by_measure


def test_workbook_values_cell_by_cell(tmp_path):
    workbook, report = export([SEEDS], tmp_path)
    assert report.exports[0].trials == 4
    assert workbook.sheet_names == [
        "Endpoints",
        "Trials",
        "Sites",
        "People",
        "References",
        "Eligibility",
        "Conditions",
        "Interventions",
        "Issues",
        "Overflow",
        "About",
    ]
    endpoints = rows(workbook, "Endpoints")
    assert endpoints[0][:8] == [
        "key",
        "trial id",
        "trial title",
        "kind",
        "order",
        "measure",
        "description",
        "time frame",
    ]
    assert len(endpoints) == 1 + 25  # the seeds' 2 + 4 + 11 + 8 endpoints
    dlt = next(r for r in endpoints if r[5] == "DLT")
    assert dlt[1:5] == [
        "local-f0c3595b1dcc",
        "CD7 CAR-T in the Treatment of CD7 Positive Refractory Relapsed Acute Leukemia",
        "primary",
        1,
    ]
    assert endpoints[0][8:14] == ["time frame kind", "value", "unit", "UCUM", "ISO 8601", "anchor"]
    # seed 001: "DLT, Dose-limiting toxicity, Up to 2 years": the unit in words, its UCUM code beside it
    assert dlt[6:14] == ["Dose-limiting toxicity", "Up to 2 years", "duration", 2, "years", "a", "P2Y", ""]
    assert dlt[14:] == ["T-ALL", "DRUG: T cell injection targeting CD7 chimeric antigen receptor"]
    remission = next(r for r in endpoints if r[5] == "One-month remission rate")
    assert "day 30 (\u00b12)" in remission[6] and remission[3:5] == ["secondary", 1]
    assert remission[7:13] == ["1 month", "duration", 1, "month", "mo", "P1M"]  # seed 004: "..., 1 month"
    trials = rows(workbook, "Trials")
    assert [r[0] for r in trials[1:]] == [
        "local-d6bf9137f83f",
        "local-f0c3595b1dcc",
        "local-982b0ee904f1",
        "local-70e660247b04",
    ]
    assert trials[0][:8] == [
        "trial id",
        "title",
        "official title",
        "acronym",
        "phases",
        "status",
        "why stopped",
        "study type",
    ]
    assert trials[4][11:15] == [1, 7, 0, "CD22"]
    # the seeds have no sites, people, references or eligibility criteria
    assert [len(rows(workbook, name)) for name in ("Sites", "People", "References", "Eligibility")] == [1, 1, 1, 1]
    about = dict((r[0], r[1]) for r in rows(workbook, "About"))
    assert about["trials"] == 4 and "trialport convert endpoints.xlsx --to fhir" in about["re-import"]


def test_looks_like_a_coordinator_made_it(tmp_path):
    export([CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"], tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openpyxl warns about anything in the file it does not understand
        book = openpyxl.load_workbook(tmp_path / "endpoints.xlsx")
    sheet = book["Endpoints"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].hidden  # the key column
    assert "Endpoints1" in sheet.tables and sheet.tables["Endpoints1"].ref == "A1:P2"
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list" and validation.formula1 == '"primary,secondary,other"'
    assert sheet["B2"].hyperlink.target == "https://clinicaltrials.gov/study/NCT00973089"
    assert sheet["A1"].font.bold and sheet["F2"].alignment.wrap_text
    assert sheet.column_dimensions["F"].width == 45
    assert sheet["F2"].alignment.vertical == "top" and sheet.row_dimensions[2].height == 30  # 2 lines: the title
    assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert book["About"]["A3"].value == "trials" and book["About"]["B3"].value == 1


def test_every_trial_id_column_shows_the_whole_id(tmp_path):
    """A column's width counts characters of the widest digit: an id needs its length and a margin for the
    filter button (the first column of a table) and for wider letters."""
    export([SEEDS, CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"], tmp_path)
    book = openpyxl.load_workbook(tmp_path / "endpoints.xlsx")
    longest = len("local-f0c3595b1dcc")  # the seeds' ids; NCT05502237 is 11
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        if "trial id" in header:
            letter = openpyxl.utils.get_column_letter(header.index("trial id") + 1)
            assert sheet.column_dimensions[letter].width >= longest + 2, sheet.title
    # a key on the Overflow sheet: a trial id, or a row's key such as a site contact's "#s12.3"
    assert book["Overflow"].column_dimensions["B"].width >= len("local-f0c3595b1dcc#s12.3") + 2


def test_time_frame_units_show_as_words_with_the_ucum_code_in_its_own_column(tmp_path):
    export([CTGOV / "aact-fixtures" / "v2-json"], tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / "endpoints.xlsx")["Endpoints"]
    header = [c.value for c in sheet[1]]
    at = {name: header.index(name) for name in ("time frame", "value", "unit", "UCUM")}
    words = {"a": "year", "mo": "month", "wk": "week", "d": "day", "h": "hour", "min": "minute"}
    units = [(r[at["value"]], r[at["unit"]], r[at["UCUM"]]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    coded = [u for u in units if u[2]]
    assert len(coded) > 100
    for value, unit, code in coded:
        assert unit == words[code] + ("" if value == 1 else "s"), (value, unit, code)
    # NCT03475563's primary outcomes: time frames "1 day", "30 days", "1 year" in the API v2 record
    rows = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "NCT03475563" and r[3] == "primary"]
    assert [[r[at[name]] for name in ("time frame", "value", "unit", "UCUM")] for r in rows] == [
        ["1 day", 1, "day", "d"],
        ["30 days", 30, "days", "d"],
        ["1 year", 1, "year", "a"],
    ]


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    trial = next(pipeline.trials([SEEDS / "004_7c5a8bd566a2bac6.txt"]))
    hostile = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    trial = trial.model_copy(update={"outcomes": [Outcome(kind="primary", measure=m) for m in hostile]})
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    exporter.write(trial)
    exporter.close()
    book = openpyxl.load_workbook(tmp_path / "endpoints.xlsx")
    cells = [book["Endpoints"].cell(row=r, column=6) for r in range(2, 8)]
    assert [c.value for c in cells] == hostile
    assert all(c.data_type == "s" for c in cells)  # strings, not formulas
    back = [r.result for r in pipeline.read([tmp_path / "endpoints.xlsx"])]
    assert [o.measure for o in back[0].outcomes] == [h.strip() for h in hostile]


def test_cell_limit_moves_text_to_overflow_and_back(tmp_path):
    trial = next(pipeline.trials([SEEDS / "001_11b440b42624ca47.txt"]))
    long = "word " * 9000  # 45,000 characters
    outcomes = [trial.outcomes[0].model_copy(update={"description": long.strip()}), *trial.outcomes[1:]]
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    exporter.write(trial.model_copy(update={"outcomes": outcomes}))
    summary = exporter.close()
    assert summary.notes == ["1 cells over 32,767 characters: full text on the Overflow sheet"]
    workbook = CalamineWorkbook.from_path(str(tmp_path / "endpoints.xlsx"))
    cell = rows(workbook, "Endpoints")[1][6]
    assert len(cell) <= 32_767 and cell.endswith("more characters on the Overflow sheet]")
    assert [r[:4] for r in rows(workbook, "Overflow")[1:]] == [
        ["Endpoints", "local-f0c3595b1dcc#p1", "description", 1],
        ["Endpoints", "local-f0c3595b1dcc#p1", "description", 2],
    ]
    assert any(r[2] == "cell-limit" for r in rows(workbook, "Issues"))
    (back,) = [r.result for r in pipeline.read([tmp_path / "endpoints.xlsx"])]
    assert back.outcomes[0].description == long.strip()


def test_row_limit_continues_on_a_second_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_exporter, "ROW_LIMIT", 10)
    workbook, _ = export([SEEDS], tmp_path)
    assert workbook.sheet_names[:4] == ["Endpoints", "Endpoints (2)", "Endpoints (3)", "Trials"]
    assert sum(len(rows(workbook, name)) - 1 for name in workbook.sheet_names if name.startswith("Endpoints")) == 25
    back = [r.result for r in pipeline.read([tmp_path / "endpoints.xlsx"])]
    assert sum(len(t.outcomes) for t in back) == 25


def _part(value, names: tuple[str, ...]) -> tuple:
    return tuple((getattr(value, name) if value else None) or None for name in names)


def carried(trial: Trial) -> tuple:
    return (
        trial.id,
        trial.title,
        trial.official_title,
        trial.acronym,
        trial.phases,
        trial.status,
        trial.study_type,
        trial.sponsor,
        [(c.name, [(x.system, x.code, x.display, x.origin) for x in c.codes]) for c in trial.conditions],
        [
            (i.type, i.name, i.other_names, i.arm_labels, [(x.system, x.code) for x in i.codes])
            for i in trial.interventions
        ],
        [(o.kind, o.measure, o.description, o.time_frame) for o in trial.outcomes],
        trial.why_stopped,
        _part(trial.eligibility, ("std_ages", "study_population", "sampling_method")),
        _part(trial.design, ("observational_model", "time_perspective")),
        criteria(trial),
    )


def criteria(trial: Trial) -> tuple:
    """What the Eligibility sheet carries: the items, else a block that could not be split."""
    eligibility = trial.eligibility
    if eligibility is None:
        return ([], [], None)
    unsplit = not eligibility.inclusion and not eligibility.exclusion
    return (eligibility.inclusion, eligibility.exclusion, eligibility.criteria if unsplit else None)


def places(trial: Trial) -> tuple:
    """Everything the Sites, People and References sheets carry of a trial, field by field."""
    return (
        [
            (
                site.facility,
                site.status,
                site.city,
                site.state,
                site.zip,
                site.country,
                site.geo.lat if site.geo else None,
                site.geo.lon if site.geo else None,
                [(c.name, c.role, c.phone, c.email) for c in site.contacts],
            )
            for site in trial.locations
        ],
        [(c.name, c.role, c.phone, c.email) for c in trial.contacts],
        [(o.name, o.affiliation, o.role) for o in trial.officials],
        [(r.pmid, r.citation, r.type) for r in trial.references],
        [(link.label, link.url) for link in trial.links],
    )


def test_round_trip_without_edits_is_lossless_for_what_the_workbook_carries(tmp_path):
    sources = [CTGOV, SEEDS]
    trials = list(pipeline.trials(sources))
    originals = {t.id: t for t in trials}
    twice = {t.id for t in trials if sum(u.id == t.id for u in trials) > 1}
    # the same study in two files (in two formats, or example/raw_study.xml's repeats): its rows merge on re-import
    assert twice == {"NCT00002475", "NCT00023673", "NCT00081588", "NCT02028676", "NCT02552212", "NCT04780763"}
    export(sources, tmp_path)
    back = [r.result for r in pipeline.read([tmp_path / "endpoints.xlsx"])]
    assert all(isinstance(t, Trial) for t in back) and len(back) == len(originals) > 600
    for trial in back:
        if trial.id not in twice:
            assert carried(trial) == carried(originals[trial.id]), trial.id
            assert places(trial) == places(originals[trial.id]), trial.id
    once = [t for t in originals.values() if t.id not in twice]
    counted = [sum(len(places(t)[i]) for t in once) for i in range(5)]
    assert counted[0] > 1000 and all(n > 0 for n in counted[1:]), counted  # sites, contacts, ...: much to lose
    assert sum(len(s.contacts) for t in once for s in t.locations) > 100
    # the criteria the splitter finds in the real blocks, item for item, and the blocks it cannot split, whole
    items = [len(criteria(t)[0]) + len(criteria(t)[1]) for t in once]
    assert sum(items) > 4000 and sum(n > 0 for n in items) > 300, (sum(items), sum(n > 0 for n in items))
    assert sum(criteria(t)[2] is not None for t in once) >= 1  # blocks the splitter leaves whole


def _items_by_line(block: str) -> tuple[list[str], list[str]]:
    """Items for the test below: every line of the block after a heading naming the kind, markers and all."""
    found: tuple[list[str], list[str]] = ([], [])
    kind = 0
    for line in block.splitlines():
        lowered = line.lower()
        if "exclusion" in lowered and lowered.rstrip().endswith(":"):
            kind = 1
        elif line.strip():
            found[kind].append(line.strip())
    return found


def test_criteria_items_of_every_real_block_come_back_exactly(tmp_path):
    """Items made from every real block's lines (whatever the splitter finds): each comes back as written, in
    its kind and place, and a trial's items with sub-items on lines of their own too."""
    trials, seen = [], set()
    for trial in pipeline.trials([CTGOV]):
        if trial.id in seen or not (trial.eligibility and trial.eligibility.criteria):
            continue
        seen.add(trial.id)
        inclusion, exclusion = _items_by_line(trial.eligibility.criteria)
        if inclusion:  # one item with its next lines as sub-items, as the convention writes them
            inclusion = [inclusion[0] + "".join(f"\n- {line}" for line in inclusion[1:3]), *inclusion[3:]]
        update = {"inclusion": inclusion, "exclusion": exclusion}
        trials.append(trial.model_copy(update={"eligibility": trial.eligibility.model_copy(update=update)}))
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    for trial in trials:
        exporter.write(trial)
    exporter.close()
    back = {t.id: t for t in (r.result for r in pipeline.read([tmp_path / "endpoints.xlsx"]))}
    assert len(trials) > 350 and sum(len(t.eligibility.exclusion) for t in trials) > 2500
    for trial in trials:
        eligibility = back[trial.id].eligibility
        assert (eligibility.inclusion, eligibility.exclusion) == (
            trial.eligibility.inclusion,
            trial.eligibility.exclusion,
        ), trial.id


def test_edits_come_back_and_bad_rows_are_reported(tmp_path):
    export([SEEDS], tmp_path)
    path = tmp_path / "endpoints.xlsx"
    book, sheet, col, by_measure = open_for_editing(path)
    sheet.cell(row=by_measure["DLT"], column=col["time frame"]).value = "Up to 3 years"  # fix a time frame
    sheet.cell(row=by_measure["PD"], column=col["kind"]).value = "other"  # mark one exploratory
    sheet.delete_rows(by_measure["Safety results"])  # delete a row
    seed001 = "local-f0c3595b1dcc"
    sheet.append([None, seed001, None, "secondary", None, "Cytokine release syndrome", "Graded by ASTCT", "Day 28"])
    sheet.append([None, seed001, None, "tertiary", None, "Bad kind", None, "Day 1"])
    sheet.append([None, "NCT99999999", None, "primary", None, "Unknown trial", None, "Day 1"])
    sheet.append([None, seed001, None, "primary", None, None, None, "Day 1"])
    rows_after = list(sheet.iter_rows(min_row=2, values_only=True))
    sheet.delete_rows(2, sheet.max_row)  # sort: the same rows, in reverse
    for values in reversed(rows_after):
        sheet.append(list(values))
    book.save(path)

    results = [r.result for r in pipeline.read([path])]
    rejections = sorted(r.reason for r in results if isinstance(r, Rejection))
    assert rejections == [
        "empty measure",
        "kind 'tertiary' is not primary, secondary or other",
        "trial id 'NCT99999999' is not on the Trials sheet",
    ]
    assert all(r.record.startswith("Endpoints row ") for r in results if isinstance(r, Rejection))
    trial = next(r for r in results if isinstance(r, Trial) and r.id == seed001)
    assert [(o.kind, o.measure, o.time_frame.text) for o in trial.outcomes] == [
        ("primary", "DLT", "Up to 3 years"),
        ("secondary", "PK", "Up to 2 years"),
        ("secondary", "Cytokine release syndrome", "Day 28"),
        ("other", "PD", "Up to 2 years"),
    ]
    assert trial.outcomes[0].time_frame.value == 3.0  # the edited text is parsed again
    assert sum(isinstance(r, Trial) for r in results) == 4


def test_time_frame_units_come_back_from_words_and_ucum_the_ucum_column_first(tmp_path):
    """A text the parser reads brings its own value and unit; a text it cannot read keeps the value and
    unit the row gives: the UCUM code where there is one, else the unit in words."""
    export([SEEDS], tmp_path)
    path = tmp_path / "endpoints.xlsx"
    book, sheet, col, by_measure = open_for_editing(path)
    sheet.cell(row=by_measure["DLT"], column=col["UCUM"]).value = "wk"  # "Up to 2 years" still says years
    pk, pd = by_measure["PK"], by_measure["PD"]
    for row, unit, ucum in ((pk, "weeks", "mo"), (pd, "Months", None)):
        sheet.cell(row=row, column=col["time frame"]).value = "At the end of the study"  # the parser cannot read it
        sheet.cell(row=row, column=col["value"]).value = 18
        sheet.cell(row=row, column=col["unit"]).value = unit
        sheet.cell(row=row, column=col["UCUM"]).value = ucum
    book.save(path)
    (trial,) = [r.result for r in pipeline.read([path]) if r.result.id == "local-f0c3595b1dcc"]
    frames = {o.measure: o.time_frame for o in trial.outcomes}
    assert (frames["DLT"].value, frames["DLT"].unit, frames["DLT"].iso8601) == (2, "a", "P2Y")
    frame = frames["PK"].model_dump()  # (the fields of a schedule's points aside)
    assert {name: frame[name] for name in ("text", "kind", "value", "unit", "iso8601", "comparator", "tolerance")} == {
        "text": "At the end of the study",
        "kind": "duration",
        "value": 18.0,
        "unit": "mo",  # the UCUM column, not the words beside it
        "iso8601": "P18M",
        "comparator": None,
        "tolerance": None,
    }
    assert frame["anchor"] is None
    assert (frames["PD"].kind, frames["PD"].value, frames["PD"].unit) == ("duration", 18.0, "mo")  # the words


@pytest.mark.parametrize("name", ["broken.xlsx"])
def test_a_broken_workbook_is_rejected(tmp_path, name):
    (tmp_path / name).write_bytes(b"PK\x03\x04 not really a zip")
    (result,) = [r.result for r in pipeline.read([tmp_path / name])]
    assert isinstance(result, Rejection) and result.reason.startswith("not a readable workbook")


def test_diff_between_the_records_and_the_edited_workbook(tmp_path):
    import json
    import subprocess
    import sys

    export([SEEDS], tmp_path)
    path = tmp_path / "endpoints.xlsx"
    book, sheet, col, rows_by = open_for_editing(path)
    sheet.cell(row=rows_by["DLT"], column=col["time frame"]).value = "Up to 3 years"
    sheet.cell(row=rows_by["PD"], column=col["kind"]).value = "other"
    sheet.cell(row=rows_by["ORR"], column=col["measure"]).value = "Objective response rate"
    sheet.delete_rows(rows_by["Safety results"])
    sheet.append([None, "local-f0c3595b1dcc", None, "secondary", None, "Cytokine release syndrome", None, "Day 28"])
    book.save(path)

    run = subprocess.run(
        [sys.executable, "-m", "trialport", "diff", str(SEEDS), str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    changes = [json.loads(line) for line in run.stdout.splitlines()]
    summary = sorted((c["trial"], c["change"], c["what"], c["before"], c["after"]) for c in changes)
    assert summary == sorted(
        [
            ("local-d6bf9137f83f", "changed", "outcome primary 'ORR' measure", "ORR", "Objective response rate"),
            ("local-f0c3595b1dcc", "changed", "outcome primary 'DLT' time frame", "Up to 2 years", "Up to 3 years"),
            ("local-f0c3595b1dcc", "changed", "outcome secondary 'PD' kind", "secondary", "other"),
            ("local-f0c3595b1dcc", "removed", "outcome", "secondary: Safety results", None),
            ("local-f0c3595b1dcc", "added", "outcome", None, "secondary: Cytokine release syndrome"),
        ]
    )
    table = subprocess.run(
        [sys.executable, "-m", "trialport", "diff", str(SEEDS), str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "5 changes" in table and "Cytokine release syndrome" in table


def test_render_is_plain_rows_and_writing_them_is_writing_the_trial(tmp_path):
    trials = list(pipeline.trials([SEEDS, CTGOV / "aact-fixtures" / "v2-json"]))
    rendered = [xlsx_exporter.XlsxExporter.render(t, {}) for t in trials]
    plain = (str, int, float, type(None))
    assert all(type(v) in plain for r in rendered for row in r[3] for v in (*row[:2], *row[3]))
    assert all(type(c) is int and type(u) is str for r in rendered for row in r[3] for c, u in row[2])
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    direct = xlsx_exporter.XlsxExporter(tmp_path / "a")
    for trial in trials:
        direct.write(trial)
    direct.close()
    shipped = xlsx_exporter.XlsxExporter(tmp_path / "b")
    for r in rendered:
        shipped.write_rendered(pickle.loads(pickle.dumps(r)))  # as from a worker process
    assert shipped.close().trials == len(trials)
    a, b = (CalamineWorkbook.from_path(str(tmp_path / d / "endpoints.xlsx")) for d in "ab")
    for name in a.sheet_names[:-1]:  # About says when it was written
        assert rows(a, name) == rows(b, name), name
    endpoints = rendered[-1][3][0]
    assert endpoints[0] == "Endpoints" and endpoints[2] == ((1, "https://clinicaltrials.gov/study/" + trials[-1].id),)
    assert len(rows(a, "Endpoints")) == 1 + sum(len(t.outcomes) for t in trials)


def test_control_characters_are_dropped_and_reported(tmp_path):
    trial = next(pipeline.trials([SEEDS / "004_7c5a8bd566a2bac6.txt"]))
    trial = trial.model_copy(update={"outcomes": [Outcome(kind="primary", measure="Overall\x0b survival\x01")]})
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    exporter.write(trial)
    summary = exporter.close()
    assert summary.notes == ["1 cells held control characters XML cannot carry: dropped (listed on the Issues sheet)"]
    workbook = CalamineWorkbook.from_path(str(tmp_path / "endpoints.xlsx"))
    assert rows(workbook, "Endpoints")[1][5] == "Overall survival"
    issue = next(r for r in rows(workbook, "Issues") if r[2] == "xml-characters")
    assert issue == [trial.id, "warning", "xml-characters", "Endpoints.measure", "2 control characters dropped"]


def test_abort_leaves_nothing_behind(tmp_path):
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    for trial in pipeline.trials([SEEDS]):
        exporter.write(trial)
    assert exporter.book.sheets[0].rows == 1 + 25  # header and the seeds' endpoints, on their way to disk
    exporter.abort()
    assert list(tmp_path.iterdir()) == []
