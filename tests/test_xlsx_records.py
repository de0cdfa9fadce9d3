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
    """A workbook written before Sites, People, References and Eligibility existed (and the Trials columns for
    them)."""
    path = tmp_path / "older.xlsx"
    book = openpyxl.load_workbook(nsclc)
    for name in ("Sites", "People", "References", "Eligibility"):
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
    assert carried == [
        "contacts",
        "eligibility.exclusion",
        "eligibility.inclusion",
        "links",
        "locations",
        "officials",
        "references",
    ]
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


# The Eligibility sheet. Items written out by hand from the raw eligibilityCriteria of
# tests/data/ctgov/nsclc-v2-json/ctg-studies.json, as the item convention gives them (marker gone, sub-items on
# lines of their own as "- ", headings never items).
PLAIN = "NCT02283021"
PLAIN_INCLUSION = ["NSCLC patients", "Patients without NSCLC", "Men or woman between 18-80 years of age"]
PLAIN_EXCLUSION = ["Pregnant woman"]
NESTED = "NCT04402008"  # "Key Inclusion Criteria:"; two items with indented sub-items
NESTED_INCLUSION = [
    "Patient must be willing and capable of giving written Informed Consent, adhering to dosing and visit "
    "schedules, and meeting all study requirements",
    "Previously treated patient with histologically or cytologically confirmed (archival tissue accepted) locally "
    "advanced or metastatic non-small cell lung cancer (NSCLC) and is not a candidate for definitive therapy\n"
    "- Phase 1: No test for mutational status is required\n"
    "- Phase 2: Documented EGFR or HER2 exon 20 insertion mutations (including duplication mutations) in NSCLC "
    "patients",
    "Prior treatment status:\n"
    "- Phase 1: Patient with refractory NSCLC to available standard therapies\n"
    "- Phase 2: Progression after at least one systemic therapy for locally advanced or metastatic disease",
    "Patient has measurable NSCLC disease, as per the Response Evaluation Criteria in Solid Tumors (RECIST, version "
    "1.1). Metastatic lesions in bone, central nervous system (CNS), or in brain cannot be used for target lesions.",
    "Patient has recovered from prior systemic therapy for metastatic disease to Grade ≤1 for non-hematologic "
    "toxicities (except for Grade ≤2 peripheral neuropathy) and has adequate hematologic, hepatic, and renal "
    "function at Baseline",
]
NESTED_EXCLUSION = [
    "Patient is concurrently receiving chemotherapy, biologics, immunotherapy for cancer treatment; systemic "
    "anti-cancer treatment or investigational treatment should not be used within 2 weeks prior to Cycle 1, Day 1; "
    "local radiation therapy for bone pain may be allowed",
    "Patient has used strong inhibitors/inducers of CYP3A4 and CYP2D6 within 1 month prior to Cycle 1, Day 1",
    "Patient has had another primary malignancy within 3 years prior to starting study treatment, except for "
    "adequately treated basal or squamous cell carcinoma of the skin or cancer of the cervix in situ",
    "Patient is pregnant or breastfeeding",
    "Phase 2 : Patient has had previous treatment with poziotinib. The currently approved tyrosine kinase "
    "inhibitors (TKIs) that are not considered to be exon 20 insertion-selective are permissible",
]
# ITALY's block is taken as one that could not be split: no items, the block kept
ITEMS = {PLAIN: (PLAIN_INCLUSION, PLAIN_EXCLUSION), NESTED: (NESTED_INCLUSION, NESTED_EXCLUSION), ITALY: ([], [])}


def with_items(trial: Trial, inclusion: list[str], exclusion: list[str]) -> Trial:
    eligibility = trial.eligibility.model_copy(update={"inclusion": inclusion, "exclusion": exclusion})
    return trial.model_copy(update={"eligibility": eligibility})


def write(trials: list[Trial], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    exporter = xlsx_exporter.XlsxExporter(out)
    for trial in trials:
        exporter.write(trial)
    exporter.close()
    return out / "endpoints.xlsx"


def eligibility_rows(path: Path, trial_id: str) -> list[tuple]:
    sheet = openpyxl.load_workbook(path)["Eligibility"]
    return [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == trial_id]


@pytest.fixture(scope="module")
def explicit(tmp_path_factory) -> Path:
    """The NSCLC records, two of them with their criteria items given by hand, one without items."""
    trials = [with_items(t, *ITEMS[t.id]) if t.id in ITEMS else t for t in pipeline.trials([NSCLC])]
    return write(trials, tmp_path_factory.mktemp("explicit"))


def test_eligibility_sheet_one_row_per_criterion(explicit):
    book = openpyxl.load_workbook(explicit)
    sheet = book["Eligibility"]
    assert book.sheetnames.index("Eligibility") == book.sheetnames.index("References") + 1
    assert [c.value for c in sheet[1]] == ["key", "trial id", "kind", "order", "criterion"]
    assert eligibility_rows(explicit, PLAIN) == [
        (f"{PLAIN}#i1", PLAIN, "inclusion", 1, "NSCLC patients"),
        (f"{PLAIN}#i2", PLAIN, "inclusion", 2, "Patients without NSCLC"),
        (f"{PLAIN}#i3", PLAIN, "inclusion", 3, "Men or woman between 18-80 years of age"),
        (f"{PLAIN}#e1", PLAIN, "exclusion", 1, "Pregnant woman"),
    ]
    nested = eligibility_rows(explicit, NESTED)
    assert [(r[2], r[3]) for r in nested] == [("inclusion", n) for n in range(1, 6)] + [
        ("exclusion", n) for n in range(1, 6)
    ]
    assert [r[4] for r in nested] == NESTED_INCLUSION + NESTED_EXCLUSION
    assert nested[1][4].splitlines()[1:] == [  # the sub-items, each on a line of its own in the cell
        "- Phase 1: No test for mutational status is required",
        "- Phase 2: Documented EGFR or HER2 exon 20 insertion mutations (including duplication mutations) in NSCLC "
        "patients",
    ]
    # a trial without items shows its whole block on one "unsplit" row
    italy = eligibility_rows(explicit, ITALY)
    block = next(t for t in pipeline.trials([NSCLC]) if t.id == ITALY).eligibility.criteria
    assert italy == [(f"{ITALY}#u1", ITALY, "unsplit", None, block)]


def test_eligibility_sheet_is_a_table_with_a_kind_drop_down(explicit):
    sheet = openpyxl.load_workbook(explicit)["Eligibility"]
    rows = sheet.max_row
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["A"].hidden  # the key
    table = sheet.tables["Eligibility1"]
    assert table.ref == f"A1:E{rows}" and table.autoFilter.ref == f"A1:E{rows}"
    (kind,) = sheet.data_validations.dataValidation
    assert (
        str(kind.sqref) == "C2:C1048576" and kind.formula1 == '"inclusion,exclusion,unsplit"' and not kind.allow_blank
    )
    widths = {letter: sheet.column_dimensions[letter].width for letter in "BCDE"}
    assert widths["B"] >= len("local-f0c3595b1dcc") + 2 and widths["C"] >= len("exclusion") + 2
    assert widths["E"] >= 100  # the criterion: wide, wrapped
    at = {sheet.cell(r, 1).value: r for r in range(2, rows + 1)}
    row = at[f"{NESTED}#i2"]  # 3 lines (the item and its two sub-items), the first over two lines at this width
    assert sheet.cell(row, 5).alignment.wrap_text and sheet.cell(row, 5).alignment.vertical == "top"
    assert sheet.row_dimensions[row].height == 15 * 4
    assert sheet.cell(row, 2).hyperlink.target == f"https://clinicaltrials.gov/study/{NESTED}"
    assert sheet.cell(at[f"{PLAIN}#e1"], 4).alignment.horizontal == "center"


def test_an_edit_session_on_the_eligibility_sheet_comes_back_and_diff_reports_it(explicit, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(explicit)
    sheet = book["Eligibility"]
    at = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(at[f"{PLAIN}#i2"], 3).value = "exclusion"  # moved to the other kind (its order, 2, stays)
    sheet.cell(at[f"{PLAIN}#e1"], 5).value = "Pregnant or breastfeeding woman"  # an edited text
    sheet.cell(at[f"{NESTED}#i2"], 5).value = NESTED_INCLUSION[1] + "\n- Phase 3: none"  # a sub-item added
    sheet.cell(at[f"{NESTED}#e4"], 4).value = 5  # two exclusion criteria swap places
    sheet.cell(at[f"{NESTED}#e5"], 4).value = 4
    sheet.delete_rows(at[f"{PLAIN}#i3"])  # a deleted row
    sheet.append([None, PLAIN, "Exclusion", None, "Active infection"])  # an added row, no order: last in its kind
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    sheet.delete_rows(2, sheet.max_row)
    for row in sorted(rows, key=lambda r: str(r[4])):  # sorted by criterion, as Excel's filter button does
        sheet.append(list(row))
    book.save(path)

    back, rejected = read(path)
    assert rejected == []
    assert back[PLAIN].eligibility.inclusion == ["NSCLC patients"]
    assert back[PLAIN].eligibility.exclusion == [
        "Pregnant or breastfeeding woman",
        "Patients without NSCLC",
        "Active infection",
    ]
    nested = back[NESTED].eligibility
    assert nested.inclusion == [*NESTED_INCLUSION[:1], NESTED_INCLUSION[1] + "\n- Phase 3: none", *NESTED_INCLUSION[2:]]
    assert nested.exclusion == [*NESTED_EXCLUSION[:3], NESTED_EXCLUSION[4], NESTED_EXCLUSION[3]]
    assert back[PLAIN].eligibility.criteria is None  # the block is on the sheet only when it was not split

    assert diff(explicit, path) == sorted(
        [
            (PLAIN, "changed", "inclusion criterion 2 kind", "inclusion", "exclusion"),
            (PLAIN, "changed", "exclusion criterion 1 text", "Pregnant woman", "Pregnant or breastfeeding woman"),
            (PLAIN, "removed", "inclusion criterion 3", "Men or woman between 18-80 years of age", None),
            (PLAIN, "added", "exclusion criterion 3", None, "Active infection"),
            (
                NESTED,
                "changed",
                "inclusion criterion 2 text",
                NESTED_INCLUSION[1],
                NESTED_INCLUSION[1] + "\n- Phase 3: none",
            ),
        ]
    )  # the swap of two exclusion criteria is no change: the same criteria, in another order


def test_bad_eligibility_rows_are_reported_with_sheet_and_row_and_the_rest_is_read(explicit, tmp_path):
    path = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(explicit)
    sheet = book["Eligibility"]
    at = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(at[f"{PLAIN}#i1"], 3).value = "maybe"
    sheet.cell(at[f"{PLAIN}#e1"], 5).value = "   "
    sheet.append([None, "NCT99999999", "inclusion", 1, "Adults"])
    sheet.append([None, ITALY, "unsplit", None, "Also: adults"])  # Italy already has its block: joined, and said
    sheet.append([None, PLAIN, "INCLUSION", "first", "Able to swallow tablets"])  # an order not a number: last
    book.save(path)
    back, rejected = read(path)
    last = sheet.max_row
    assert sorted((r.record, r.reason) for r in rejected) == sorted(
        [
            (f"Eligibility row {at[f'{PLAIN}#i1']}", "kind 'maybe' is not inclusion, exclusion, unsplit"),
            (f"Eligibility row {at[f'{PLAIN}#e1']}", "empty criterion"),
            (f"Eligibility row {last - 2}", "trial id 'NCT99999999' is not on the Trials sheet"),
        ]
    )
    assert back[PLAIN].eligibility.inclusion == [*PLAIN_INCLUSION[1:], "Able to swallow tablets"]
    assert back[PLAIN].eligibility.exclusion == []
    italy = next(t for t in pipeline.trials([NSCLC]) if t.id == ITALY)
    assert back[ITALY].eligibility.criteria == italy.eligibility.criteria + "\n\nAlso: adults"
    assert back[ITALY].eligibility.inclusion == [] and back[ITALY].eligibility.exclusion == []
    (joined,) = [d for d in back[ITALY].diagnostics if d.code == "criteria-blocks-joined"]
    assert joined.level == "warning" and f"rows {at[f'{ITALY}#u1']}, {last - 1} each hold" in joined.message
    assert len(back) == 100


def test_a_block_that_could_not_be_split_shows_whole_and_comes_back_as_the_block(tmp_path):
    """NCT00023673 (classic API JSON): "DISEASE CHARACTERISTICS:", "PATIENT CHARACTERISTICS:", ... and no
    inclusion or exclusion heading, so no items; its block is one "unsplit" row, read back as the block."""
    source = CTGOV / "aact-fixtures" / "classic-api-json" / "NCT00023673.json"
    raw = json.loads(source.read_text(encoding="utf-8"))
    block = raw["FullStudiesResponse"]["FullStudies"][0]["Study"]["ProtocolSection"]["EligibilityModule"][
        "EligibilityCriteria"
    ]
    assert block.startswith("DISEASE CHARACTERISTICS:\n\nHistologically or cytologically confirmed unresectable")
    path = export([source], tmp_path / "out")
    assert eligibility_rows(path, "NCT00023673") == [("NCT00023673#u1", "NCT00023673", "unsplit", None, block)]
    back, rejected = read(path)
    eligibility = back["NCT00023673"].eligibility
    assert rejected == [] and (eligibility.inclusion, eligibility.exclusion, eligibility.criteria) == ([], [], block)

    edited = tmp_path / "edited.xlsx"
    book = openpyxl.load_workbook(path)
    book["Eligibility"].cell(2, 5).value = block.replace("stage IIIB", "stage IIIA or IIIB")
    book.save(edited)
    assert diff(source, edited) == [
        ("NCT00023673", "changed", "eligibility.criteria", block, block.replace("stage IIIB", "stage IIIA or IIIB"))
    ]


def test_past_the_cell_limit_a_criterion_and_a_block_come_back_whole(tmp_path):
    trials = {t.id: t for t in pipeline.trials([NSCLC])}
    long = ("Adequate organ function " * 1500).strip()  # 37,499 characters: past a cell's 32,767
    plain = with_items(trials[PLAIN], [*PLAIN_INCLUSION, long + "\n- and more"], PLAIN_EXCLUSION)
    italy = trials[ITALY]
    unsplit = {"criteria": long, "inclusion": [], "exclusion": []}
    italy = italy.model_copy(update={"eligibility": italy.eligibility.model_copy(update=unsplit)})
    exporter = xlsx_exporter.XlsxExporter(tmp_path)
    exporter.write(plain)
    exporter.write(italy)
    assert exporter.close().notes == ["2 cells over 32,767 characters: full text on the Overflow sheet"]
    path = tmp_path / "endpoints.xlsx"
    cell = eligibility_rows(path, PLAIN)[3][4]
    assert len(cell) <= 32_767 and cell.endswith("more characters on the Overflow sheet]")
    issues = sheet_rows(path, "Issues")
    assert [PLAIN, "info", "cell-limit", "Eligibility.criterion"] in [r[:4] for r in issues]
    back, rejected = read(path)
    assert rejected == []
    assert back[PLAIN].eligibility.inclusion == [*PLAIN_INCLUSION, long + "\n- and more"]
    assert back[ITALY].eligibility.criteria == long and back[ITALY].eligibility.inclusion == []


def test_real_records_through_the_pipeline_show_their_criteria_one_a_row(nsclc):
    """The criteria items the pipeline itself finds in the raw blocks (the splitter, run by every reader)."""
    assert eligibility_rows(nsclc, PLAIN) == [
        (f"{PLAIN}#i1", PLAIN, "inclusion", 1, "NSCLC patients"),
        (f"{PLAIN}#i2", PLAIN, "inclusion", 2, "Patients without NSCLC"),
        (f"{PLAIN}#i3", PLAIN, "inclusion", 3, "Men or woman between 18-80 years of age"),
        (f"{PLAIN}#e1", PLAIN, "exclusion", 1, "Pregnant woman"),
    ]
    # NCT05688046: "Inclusion Criteria:" only, numbered "1." to "10.", a markdown escape "\\>" in the record
    only = "NCT05688046"
    assert [r[2:] for r in eligibility_rows(nsclc, only)] == [
        ("inclusion", n, text)
        for n, text in enumerate(
            [
                "Age ≥65 years old.",
                "Stage IV according to the AJCC Cancer grading manual (8th edition).",
                "Histologically confirmed NSCLC.",
                "No driver mutations.",
                "Received at least 2 courses of immunotherapy.",
                "Expected survival time > 3 months.",
                "No concurrent malignancy.",
                "Not participating in a clinical trial.",
                "The functions of important organs were basically normal.",
                "Sign informed consent.",
            ],
            1,
        )
    ]
    # NCT01100827: "Inclusion Criteria:\n\nNil\n\nExclusion Criteria:\n\nNil"
    assert [r[2:] for r in eligibility_rows(nsclc, "NCT01100827")] == [("inclusion", 1, "Nil"), ("exclusion", 1, "Nil")]


def test_real_records_through_the_pipeline_keep_sub_items_with_their_criterion(nsclc):
    """NCT05463224: "* Adequate organ function." with an indented "  * Available to provide ..." below it;
    NCT04402008 (items written out above)."""
    rows = eligibility_rows(nsclc, "NCT05463224")
    assert [r[2] for r in rows] == ["inclusion"] * 12 + ["exclusion"] * 10
    assert rows[6][4] == (
        "Adequate organ function.\n- Available to provide the adequate tissue and blood for the genomic tests- At "
        "least 15 unstained slide and 20 cc of blood at baseline (mandatory) and disease progression."
    )
    assert rows[7][4] == "Agreed to perform re-biopsy at the timepoint of disease progression."
    assert rows[-1][4] == (
        "Unable to swallow the product due to refractory nausea, vomiting or chornic gastrointestinal disease."
    )
    # NCT04402008: "Key Inclusion Criteria:", two criteria with indented sub-items ("  * Phase 1: ...")
    nested = eligibility_rows(nsclc, NESTED)
    assert [(r[2], r[3]) for r in nested] == [("inclusion", n) for n in range(1, 6)] + [
        ("exclusion", n) for n in range(1, 6)
    ]
    assert [r[4] for r in nested] == NESTED_INCLUSION + NESTED_EXCLUSION
