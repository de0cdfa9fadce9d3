"""The workbook's Sites, People and References sheets: values checked cell by cell with an independent
reader (python-calamine) against the registry's JSON, and a coordinator's edits back exactly, reported by
``diff``. (That every site, contact, official, reference and link of every real record comes back without
loss is checked by the round trip in test_xlsx.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import CTGOV
from python_calamine import CalamineWorkbook

from trialport import pipeline
from trialport.exporters import xlsx as xlsx_exporter
from trialport.model import Contact, GeoPoint, Location, Reference, Trial
from trialport.readers.base import Rejection

NSCLC = CTGOV / "nsclc-v2-json"
ITALY = "NCT06823401"  # observational; two sites in Roma, the second with three contacts; geo points; zip "000144"


def export(paths: list[Path], out: Path) -> Path:
    pipeline.convert(paths, out, ["xlsx"])
    return out / "endpoints.xlsx"


def sheet_rows(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def read(path: Path) -> tuple[dict[str, Trial], list[Rejection]]:
    results = [r.result for r in pipeline.read([path])]
    return {r.id: r for r in results if isinstance(r, Trial)}, [r for r in results if isinstance(r, Rejection)]


def diff(a: Path, b: Path) -> list[tuple]:
    run = subprocess.run(
        [sys.executable, "-m", "trialport", "diff", str(a), str(b), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    changes = [json.loads(line) for line in run.stdout.splitlines()]
    return sorted((c["trial"], c["change"], c["what"], c["before"], c["after"]) for c in changes)


@pytest.fixture(scope="module")
def nsclc(tmp_path_factory) -> Path:
    return export([NSCLC], tmp_path_factory.mktemp("nsclc"))


def test_sites_people_references_cell_by_cell(nsclc):
    """Expected values read by hand from tests/data/ctgov/nsclc-v2-json/ctg-studies.json."""
    sites = sheet_rows(nsclc, "Sites")
    assert sites[0] == [
        "key",
        "trial id",
        "facility",
        "city",
        "state",
        "zip",
        "country",
        "status",
        "contact name",
        "contact role",
        "phone",
        "e-mail",
        "latitude",
        "longitude",
    ]
    italy = [r for r in sites if r[1] == ITALY]
    place = ["Istituto Tumori Regina Elena", "Roma", "RM"]
    assert italy == [
        [
            f"{ITALY}#s1",
            ITALY,
            *place,
            "000144",
            "Italy",
            "ENROLLING_BY_INVITATION",
            "",
            "",
            "",
            "",
            44.99364,
            11.10642,
        ],
        [
            f"{ITALY}#s2.1",
            ITALY,
            *place,
            "00128",
            "Italy",
            "RECRUITING",
            "Grisel GM Maver Militello, Monitor",
            "CONTACT",
            "0652662724",
            "grisel.mavermilitello@ifo.it",
            44.99364,
            11.10642,
        ],
        [
            f"{ITALY}#s2.2",
            ITALY,
            *place,
            "00128",
            "Italy",
            "RECRUITING",
            "Raffaella RV Veneziano, S.C",
            "CONTACT",
            "0652662724",
            "raffaella.veneziano@ifo.it",
            44.99364,
            11.10642,
        ],
        [
            f"{ITALY}#s2.3",
            ITALY,
            *place,
            "00128",
            "Italy",
            "RECRUITING",
            "Lorenza LL Landi, Dott.ssa",
            "SUB_INVESTIGATOR",
            "",
            "",
            44.99364,
            11.10642,
        ],
    ]
    assert len(sites) - 1 == 1001  # the NSCLC records' 959 sites, those with contacts once per contact
    people = [r for r in sheet_rows(nsclc, "People") if r[1] == ITALY]
    assert people == [
        [
            f"{ITALY}#c1",
            ITALY,
            "contact",
            "Federico FC Cappuzzo, PI",
            "CONTACT",
            "",
            "+390544285206",
            "federico.cappuzzo@ifo.it",
        ],
        [
            f"{ITALY}#c2",
            ITALY,
            "contact",
            "Grisel GM Maver Militello, Monitor",
            "CONTACT",
            "",
            "0652662724",
            "grisel.mavermilitello@ifo.it",
        ],
        [
            f"{ITALY}#o1",
            ITALY,
            "official",
            "Federico FC Cappuzzo, PI",
            "PRINCIPAL_INVESTIGATOR",
            "IRCCS Ist. Naz. Tum. Regina Elena",
            "",
            "",
        ],
    ]
    references = sheet_rows(nsclc, "References")
    assert references[0] == ["key", "trial id", "type", "PMID", "citation / label", "url"]
    her2 = [r for r in references if r[1] == "NCT02369484"]
    assert [r[:4] for r in her2] == [
        ["NCT02369484#r1", "NCT02369484", "BACKGROUND", "23610105"],
        ["NCT02369484#r2", "NCT02369484", "BACKGROUND", "22325357"],
        ["NCT02369484#r3", "NCT02369484", "BACKGROUND", "21353324"],
        ["NCT02369484#l1", "NCT02369484", "LINK", ""],
    ]
    assert her2[0][4].startswith("Mazieres J, Peters S, Lepage B,") and her2[0][4].endswith("Epub 2013 Apr 22.")
    assert her2[3][4:] == ["Sponsor", "http://www.etop-eu.org/"]
    trials = sheet_rows(nsclc, "Trials")
    column = {name: i for i, name in enumerate(trials[0])}
    italy_trial = next(r for r in trials if r[0] == ITALY)
    assert [italy_trial[column[c]] for c in ("age groups", "observational model", "time perspective")] == [
        "ADULT, OLDER_ADULT",
        "COHORT",
        "PROSPECTIVE",
    ]
    assert italy_trial[column["sampling method"]] == "PROBABILITY_SAMPLE"
    assert italy_trial[column["study population"]].startswith("The study population will include NSCLC patients")
    stopped = next(r for r in trials if r[0] == "NCT02179567")
    assert [stopped[column[c]] for c in ("status", "why stopped", "age groups")] == [
        "TERMINATED",
        "Terminated due to poor accrual",
        "OLDER_ADULT",
    ]


def test_sites_sheet_is_a_table_coordinators_filter_and_sort(nsclc):
    book = openpyxl.load_workbook(nsclc)
    sites = book["Sites"]
    assert sites.freeze_panes == "A2" and sites.column_dimensions["A"].hidden  # the key
    assert sites.tables["Sites1"].ref == "A1:N1002" and sites.tables["Sites1"].autoFilter.ref == "A1:N1002"
    (status,) = sites.data_validations.dataValidation
    assert str(status.sqref) == "H2:H1048576" and status.allow_blank
    assert status.formula1.strip('"').split(",")[:8] == [
        "RECRUITING",
        "NOT_YET_RECRUITING",
        "ACTIVE_NOT_RECRUITING",
        "COMPLETED",
        "ENROLLING_BY_INVITATION",
        "SUSPENDED",
        "TERMINATED",
        "WITHDRAWN",
    ]
    widths = {letter: sites.column_dimensions[letter].width for letter in "BCHIJ"}
    assert widths["H"] >= len("ENROLLING_BY_INVITATION") and widths["J"] >= len("PRINCIPAL_INVESTIGATOR")
    row = next(r for r in range(2, sites.max_row + 1) if sites.cell(r, 1).value == f"{ITALY}#s1")
    assert sites.cell(row, 2).hyperlink.target == f"https://clinicaltrials.gov/study/{ITALY}"
    assert sites.cell(row, 6).number_format == "@" and sites.cell(row, 11).number_format == "@"  # zip, phone: text
    assert sites.cell(row, 3).alignment.wrap_text
    people = book["People"]
    assert people.column_dimensions["A"].hidden and people.data_validations.dataValidation[0].formula1 == (
        '"contact,official"'
    )
    references = book["References"]
    row = next(r for r in range(2, references.max_row + 1) if references.cell(r, 1).value == "NCT02369484#r1")
    assert references.cell(row, 4).hyperlink.target == "https://pubmed.ncbi.nlm.nih.gov/23610105/"
    assert references.cell(row, 2).hyperlink.target == "https://clinicaltrials.gov/study/NCT02369484"
    assert references.cell(row + 3, 6).hyperlink.target == "http://www.etop-eu.org/"  # the link row


def test_an_edit_session_on_the_sites_sheet_comes_back_exactly_and_diff_reports_it(nsclc, tmp_path):
    originals = {t.id: t for t in pipeline.trials([NSCLC])}
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(nsclc)
    sheet = book["Sites"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header}
    at = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(at[f"{ITALY}#s2.2"], col["phone"]).value = "06 5266 2725"  # a phone changed
    sheet.cell(at[f"{ITALY}#s1"], col["status"]).value = "COMPLETED"  # a status changed
    sheet.delete_rows(at[f"{ITALY}#s2.3"])  # a row deleted: the site's third contact
    added = [None, ITALY, "Ospedale San Camillo", "Roma", "RM", "00152", "Italy", "NOT_YET_RECRUITING"]
    sheet.append(
        [*added, "Maria Bianchi", "PRINCIPAL_INVESTIGATOR", "06 5870 1", "m.bianchi@example.org", 41.87, 12.45]
    )
    before = list(sheet.iter_rows(min_row=2, values_only=True))
    values = sorted(before, key=lambda r: str(r[col["city"] - 1]))  # sorted by city, as Excel's filter button does
    assert [r[0] for r in values] != [r[0] for r in before]
    sheet.delete_rows(2, sheet.max_row)
    for row in values:
        sheet.append(list(row))
    book.save(path)

    back, rejected = read(path)
    assert rejected == []
    italy = originals[ITALY].locations
    assert back[ITALY].locations == [
        italy[0].model_copy(update={"status": "COMPLETED"}),
        italy[1].model_copy(
            update={
                "contacts": [italy[1].contacts[0], italy[1].contacts[1].model_copy(update={"phone": "06 5266 2725"})]
            }
        ),
        Location(
            facility="Ospedale San Camillo",
            status="NOT_YET_RECRUITING",
            city="Roma",
            state="RM",
            zip="00152",
            country="Italy",
            geo=GeoPoint(lat=41.87, lon=12.45),
            contacts=[
                Contact(
                    name="Maria Bianchi",
                    role="PRINCIPAL_INVESTIGATOR",
                    phone="06 5870 1",
                    email="m.bianchi@example.org",
                )
            ],
        ),
    ]
    assert all(back[t].locations == originals[t].locations for t in originals if t != ITALY)  # the sort changed nothing

    site1 = "site 'Istituto Tumori Regina Elena, Roma, 000144, Italy'"
    site2 = "site 'Istituto Tumori Regina Elena, Roma, 00128, Italy'"
    assert diff(NSCLC, path) == sorted(
        [
            (ITALY, "changed", f"{site1} status", "ENROLLING_BY_INVITATION", "COMPLETED"),
            (ITALY, "changed", f"contact 'Raffaella RV Veneziano, S.C' at {site2} phone", "0652662724", "06 5266 2725"),
            (ITALY, "removed", f"contact at {site2}", "Lorenza LL Landi, Dott.ssa (SUB_INVESTIGATOR)", None),
            (ITALY, "added", "site", None, "Ospedale San Camillo, Roma, 00152, Italy"),
        ]
    )


def test_people_and_references_edits_come_back_and_diff_reports_them(nsclc, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(nsclc)
    people = book["People"]
    at = {people.cell(r, 1).value: r for r in range(2, people.max_row + 1)}
    people.cell(at[f"{ITALY}#o1"], 6).value = "Regina Elena National Cancer Institute"  # affiliation
    people.delete_rows(at[f"{ITALY}#c2"])
    people.append([None, ITALY, "contact", "Ufficio Studi Clinici", "CONTACT", None, "06 5266 1"])
    everyone = list(people.iter_rows(min_row=2, values_only=True))
    people.delete_rows(2, people.max_row)
    for row in reversed(everyone):  # sorted the other way round: no change
        people.append(list(row))
    references = book["References"]
    at = {references.cell(r, 1).value: r for r in range(2, references.max_row + 1)}
    references.cell(at["NCT02369484#l1"], 5).value = "European Thoracic Oncology Platform"  # a link's label
    references.cell(at["NCT02369484#r2"], 3).value = "RESULT"
    references.append([None, "NCT02369484", None, None, None, "https://www.etop-eu.org/trials"])  # a new link
    book.save(path)

    back, rejected = read(path)
    assert rejected == []
    assert [(c.name, c.phone) for c in back[ITALY].contacts] == [
        ("Federico FC Cappuzzo, PI", "+390544285206"),
        ("Ufficio Studi Clinici", "06 5266 1"),
    ]
    assert back[ITALY].officials[0].affiliation == "Regina Elena National Cancer Institute"
    assert [r.type for r in back["NCT02369484"].references] == ["BACKGROUND", "RESULT", "BACKGROUND"]
    assert [(link.label, link.url) for link in back["NCT02369484"].links] == [
        ("European Thoracic Oncology Platform", "http://www.etop-eu.org/"),
        (None, "https://www.etop-eu.org/trials"),
    ]
    official = "official 'Federico FC Cappuzzo, PI' affiliation"
    assert diff(NSCLC, path) == sorted(
        [
            (ITALY, "changed", official, "IRCCS Ist. Naz. Tum. Regina Elena", "Regina Elena National Cancer Institute"),
            (ITALY, "removed", "contact", "Grisel GM Maver Militello, Monitor (CONTACT)", None),
            (ITALY, "added", "contact", None, "Ufficio Studi Clinici (CONTACT)"),
            ("NCT02369484", "changed", "reference PMID 22325357 type", "BACKGROUND", "RESULT"),
            (
                "NCT02369484",
                "changed",
                "link http://www.etop-eu.org/ label",
                "Sponsor",
                "European Thoracic Oncology Platform",
            ),
            ("NCT02369484", "added", "link", None, "https://www.etop-eu.org/trials"),
        ]
    )


def test_bad_rows_are_reported_with_sheet_and_row_and_the_rest_is_read(nsclc, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(nsclc)
    sites = book["Sites"]
    at = {sites.cell(r, 1).value: r for r in range(2, sites.max_row + 1)}
    sites.cell(at[f"{ITALY}#s2.1"], 13).value = "44,99364"  # a latitude typed with a decimal comma
    sites.cell(at[f"{ITALY}#s2.2"], 8).value = "Open"  # not a site status
    sites.cell(at[f"{ITALY}#s1"], 8).value = "Not yet recruiting"  # the registry's words: taken
    sites.append([None, "NCT99999999", "Nowhere Hospital"])
    people = book["People"]
    people.append([None, ITALY, "sponsor", "Someone"])
    people.append([None, ITALY, "official", "Dr Phone", None, None, "123"])
    references = book["References"]
    references.append([None, ITALY, "BACKGROUND", "123456", "A study.", "https://example.org/"])
    book.save(path)

    back, rejected = read(path)
    assert sorted((r.record, r.reason) for r in rejected) == sorted(
        [
            (f"Sites row {at[f'{ITALY}#s2.1']}", "latitude '44,99364' is not a number"),
            (
                f"Sites row {at[f'{ITALY}#s2.2']}",
                "status 'Open' is not a site status (RECRUITING, NOT_YET_RECRUITING, ACTIVE_NOT_RECRUITING, COMPLETED,"
                " ENROLLING_BY_INVITATION, SUSPENDED, TERMINATED, WITHDRAWN, AVAILABLE, NO_LONGER_AVAILABLE,"
                " TEMPORARILY_NOT_AVAILABLE, APPROVED_FOR_MARKETING, WITHHELD, UNKNOWN)",
            ),
            (f"Sites row {sites.max_row}", "trial id 'NCT99999999' is not on the Trials sheet"),
            (f"People row {people.max_row - 1}", "kind 'sponsor' is not contact or official"),
            (
                f"People row {people.max_row}",
                "an official has no phone or e-mail (a contact has): make the row a contact",
            ),
            (
                f"References row {references.max_row}",
                "a reference has no url (a link has): give the row the type LINK",
            ),
        ]
    )
    assert all(r.path == str(path) for r in rejected)
    italy = back[ITALY]
    assert [s.status for s in italy.locations] == ["NOT_YET_RECRUITING", "RECRUITING"]
    assert [c.name for c in italy.locations[1].contacts] == ["Lorenza LL Landi, Dott.ssa"]  # the rest of the site
    assert len(back) == 100


def test_rows_of_one_site_that_disagree_keep_the_first_and_say_so(nsclc, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(nsclc)
    sites = book["Sites"]
    at = {sites.cell(r, 1).value: r for r in range(2, sites.max_row + 1)}
    sites.cell(at[f"{ITALY}#s2.3"], 8).value = "SUSPENDED"  # one row of the site's three
    book.save(path)
    back, rejected = read(path)
    assert rejected == [] and back[ITALY].locations[1].status == "RECRUITING"
    (warning,) = [d for d in back[ITALY].diagnostics if d.code == "site-rows-differ"]
    assert warning.level == "warning" and warning.field == "locations.status"
    first, third = at[f"{ITALY}#s2.1"], at[f"{ITALY}#s2.3"]
    assert f"Sites rows {first} and {third}" in warning.message and "'SUSPENDED' (row" in warning.message


def test_a_new_row_with_a_sites_columns_is_a_new_contact_of_that_site(nsclc, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(nsclc)
    sites = book["Sites"]
    at = {sites.cell(r, 1).value: r for r in range(2, sites.max_row + 1)}
    site1 = [c.value for c in sites[at[f"{ITALY}#s1"]]]
    sites.append([None, *site1[1:8], "Paolo Verdi", "CONTACT", "06 1", None, *site1[12:]])
    sites.append([None, *site1[1:5], "00199", *site1[6:8], "Anna Neri", "CONTACT"])  # another zip: another site
    sites.append([None, *site1[1:5], "00199", *site1[6:8], "Luca Blu", "CONTACT"])
    book.save(path)
    back, _ = read(path)
    locations = back[ITALY].locations
    assert [(s.zip, [c.name for c in s.contacts]) for s in locations] == [
        ("000144", ["Paolo Verdi"]),
        ("00128", ["Grisel GM Maver Militello, Monitor", "Raffaella RV Veneziano, S.C", "Lorenza LL Landi, Dott.ssa"]),
        ("00199", ["Anna Neri", "Luca Blu"]),
    ]
    assert locations[2].geo is None and locations[2].status == "ENROLLING_BY_INVITATION"


def test_a_workbook_without_the_new_sheets_still_reads_and_diff_does_not_call_them_deleted(nsclc, tmp_path):
    """A workbook written before Sites, People and References existed (and the Trials columns for them)."""
    path = tmp_path / "older.xlsx"
    book = openpyxl.load_workbook(nsclc)
    for name in ("Sites", "People", "References"):
        del book[name]
    trials = book["Trials"]
    for header in ("study population", "sampling method", "time perspective", "observational model", "age groups"):
        trials.delete_cols([c.value for c in trials[1]].index(header) + 1)
    trials.delete_cols([c.value for c in trials[1]].index("why stopped") + 1)
    endpoints = book["Endpoints"]
    endpoints.delete_cols([c.value for c in endpoints[1]].index("UCUM") + 1)
    book.save(path)
    back, rejected = read(path)
    assert rejected == [] and len(back) == 100
    italy = back[ITALY]
    assert italy.locations == [] and italy.eligibility is None and italy.outcomes
    carried = sorted(d.field for d in italy.diagnostics if d.code == "not-carried")
    assert carried == ["contacts", "links", "locations", "officials", "references"]
    assert diff(NSCLC, path) == []


def test_past_the_cell_and_row_limits_sites_people_and_references_come_back_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_exporter, "ROW_LIMIT", 3)  # Sites continues on "Sites (2)"
    italy = next(t for t in pipeline.trials([NSCLC]) if t.id == ITALY)
    long = "word " * 7000  # 35,000 characters: past a cell's 32,767
    site = italy.locations[1].model_copy(update={"facility": long.strip()})
    reference = Reference(pmid="1", citation=long.strip() + " end", type="RESULT")
    eligibility = italy.eligibility.model_copy(update={"study_population": long.strip() + " all"})
    trial = italy.model_copy(update={"locations": [italy.locations[0], site], "references": [reference]})
    trial = trial.model_copy(update={"eligibility": eligibility})
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    exporter.write(trial)
    notes = exporter.close().notes  # the facility on each of its site's three rows, the citation, the population
    assert notes == ["5 cells over 32,767 characters: full text on the Overflow sheet"]
    path = tmp_path / "endpoints.xlsx"
    assert {"Sites (2)", "Overflow"} <= set(CalamineWorkbook.from_path(str(path)).sheet_names)
    back, rejected = read(path)
    assert rejected == []
    assert back[ITALY].locations == trial.locations and back[ITALY].references == [reference]
    assert back[ITALY].eligibility.study_population == long.strip() + " all"
