"""CDISC TI (Trial Inclusion/Exclusion Criteria) beside TS, and the TS rows FCNTRY, TCNTRL and OUTMSPRI: values
checked by hand against the raw records, ti.xpt read back with pyreadstat and with our own reader, long and
non-ASCII criteria kept whole in ti_all.csv and listed in xpt_changes.csv, define.xml valid Define-XML 2.1."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyreadstat
import pytest
from conftest import CTGOV
from lxml import etree
from test_cdisc import define_schema

from trialport import pipeline
from trialport.cdisc.ascii import transliterate
from trialport.cdisc.check import check_dataset, check_ti_rows
from trialport.cdisc.dataset import CUT_MARK, cut, ti_dataset
from trialport.cdisc.terminology import CT_VERSION
from trialport.cdisc.ti import VARIABLES, criterion_codes, ti_rows
from trialport.cdisc.ts import ts_rows
from trialport.cdisc.xpt import read_xpt
from trialport.exporters.cdisc import CdiscExporter

NSCLC = CTGOV / "nsclc-v2-json" / "ctg-studies.json"
V2 = CTGOV / "aact-fixtures" / "v2-json"
SERBIA = CTGOV / "aact-fixtures" / "legacy-xml" / "NCT01076361.xml"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}

# NCT00763412 (aact-fixtures/v2-json): the bullets under "Inclusion Criteria:" and "Exclusion Criteria:",
# read off the raw JSON by hand; the markdown escapes "\<" and "\>" are the readers' to repair
NCT00763412_INCLUSION = [
    "Male or females 12 -24 years old",
    "Diagnosis of Cystic Fibrosis by sweat test with exocrine pancreatic insufficiency",
    "Must have a glucose pattern by Oral Glucose Tolerance Test with fasting blood glucose <126 mg/dl and 2 hour: "
    "140 - 199 mg/dl or >200 mg/dl.",
    "Weight must be stable within 5% for 3 months prior to initiation visit",
    "Must be able to reproducibly perform spirometry based on American Thoracic Society guidelines",
]
NCT00763412_EXCLUSION = [
    "Patients receiving growth hormone therapy or taking insulin",
    "Patients with evidence of liver dysfunction",
    "Patients who are status-post lung or liver transplantation",
    "Patients who have received systemic steroids for more than 28 days during the 6 months prior to the study",
    "Patients with active ABPA on steroids",
    "Patients taking medications that affect glucose metabolism or contraindicated with repaglinide",
]
NCT00763412_CODES = ["INCL01", "INCL02", "INCL03", "INCL04", "INCL05"] + [f"EXCL0{n}" for n in range(1, 7)]
# NCT02369484's second exclusion criterion, 499 characters, copied from the raw JSON
LONG = (
    "Uncontrolled lepto-meningeal metastatic disease. Radiotherapy-treated or asymptomatic brain metastases are "
    "allowed (no systematic screening). Patients with brain or subdural metastases are not eligible, unless they "
    "have completed local therapy and have discontinued the use of corticosteroids or have been on stable dose of "
    "corticosteroids for at least 4 weeks before starting trial treatment. Any symptoms attributed to brain "
    "metastases must be stable for at least 4 weeks before date of enrolment."
)
LONG_IN_XPT = (
    "Uncontrolled lepto-meningeal metastatic disease. Radiotherapy-treated or asymptomatic brain metastases are "
    "allowed (no systematic screening). Patients with brain or subdural metastases are not [...]"
)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def trial(nct: str, path: Path = NSCLC):
    return next(t for t in pipeline.trials([path]) if t.id == nct)


def with_items(study, inclusion: list[str], exclusion: list[str]):
    eligibility = study.eligibility.model_copy(update={"inclusion": inclusion, "exclusion": exclusion})
    return study.model_copy(update={"eligibility": eligibility})


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The NSCLC set, the AACT API v2 files and one legacy XML record converted once (through the splitter)."""
    folder = tmp_path_factory.mktemp("ti")
    report = pipeline.convert([NSCLC, V2, SERBIA], folder, ["cdisc"])
    (folder / "notes.txt").write_text("\n".join(report.exports[0].notes), encoding="utf-8")
    return folder / "cdisc"


def test_ti_of_a_real_record_with_its_items_given(tmp_path):
    """Items built by hand from the record's text: rows, ti.xpt read back by pyreadstat and by our reader."""
    study = with_items(trial("NCT00763412", V2 / "NCT00763412.json"), NCT00763412_INCLUSION, NCT00763412_EXCLUSION)
    exporter = CdiscExporter(tmp_path)
    exporter.write_rendered(CdiscExporter.render(study, {}))
    exporter.close()
    folder = tmp_path / "cdisc" / "NCT00763412"
    assert {p.name for p in folder.iterdir()} == {"ts.xpt", "ts.csv", "ti.xpt", "ti.csv", "define.xml"}
    frame, meta = pyreadstat.read_xport(str(folder / "ti.xpt"))
    assert meta.table_name == "TI" and meta.file_label == "Trial Inclusion/Exclusion Criteria"
    assert list(frame.columns) == list(VARIABLES)
    assert meta.column_names_to_labels == VARIABLES
    assert meta.column_names_to_labels["IETESTCD"] == "Incl/Excl Criterion Short Name"
    assert set(meta.readstat_variable_types.values()) == {"string"}
    rows = frame.fillna("").to_dict("records")
    assert [r["IETESTCD"] for r in rows] == NCT00763412_CODES
    assert [r["IETEST"] for r in rows] == NCT00763412_INCLUSION + NCT00763412_EXCLUSION
    assert [r["IECAT"] for r in rows] == ["INCLUSION"] * 5 + ["EXCLUSION"] * 6
    assert {r["STUDYID"] for r in rows} == {"NCT00763412"} and {r["DOMAIN"] for r in rows} == {"TI"}
    assert {r["IESCAT"] + r["TIRL"] + r["TIVERS"] for r in rows} == {""}  # nothing the record does not say
    assert meta.variable_storage_width["IETEST"] == len(NCT00763412_INCLUSION[2])  # the longest, 130
    columns, ours = read_xpt((folder / "ti.xpt").read_bytes())
    assert columns == list(VARIABLES) and ours == rows
    assert read_csv(folder / "ti.csv") == rows
    assert read_csv(tmp_path / "cdisc" / "ti_all.csv") == rows
    assert check_dataset(folder / "ti.xpt") == ("TI", [])


def test_ti_of_real_records_through_the_pipeline(out):
    """The splitter's items for NCT00763412 are the ones read off the record by hand."""
    rows = read_csv(out / "NCT00763412" / "ti.csv")
    assert [r["IETESTCD"] for r in rows] == NCT00763412_CODES
    assert [r["IETEST"] for r in rows] == NCT00763412_INCLUSION + NCT00763412_EXCLUSION
    frame, _ = pyreadstat.read_xport(str(out / "NCT00763412" / "ti.xpt"))
    assert frame.fillna("").to_dict("records") == rows
    # NCT02369484: 14 exclusion bullets in the raw block; inclusion starts as below
    rows = read_csv(out / "NCT02369484" / "ti.csv")
    inclusion = [r["IETEST"] for r in rows if r["IECAT"] == "INCLUSION"]
    assert inclusion[:5] == [
        "Histologically or cytologically confirmed non small cell lung cancer",
        "Stage IIIB (non amenable to curative-intent multimodal treatment) or IV NSCLC, according to 7th TNM "
        "classification.",
        "Contrast-enhanced CT of thorax and upper abdomen (incl. liver, kidney, adrenals);",
        "brain MRI or CT within 28 days before the date of enrolment.",
        "Non-predominant squamous subtype (<50% squamous cells).",
    ]
    assert inclusion[8] == "Age >= 18 years"  # "Age ≥ 18 years" in the record
    exclusion = [r["IETESTCD"] for r in rows if r["IECAT"] == "EXCLUSION"]
    assert exclusion == [f"EXCL{n:02d}" for n in range(1, 15)]


def test_a_long_criterion_is_kept_whole_and_its_cut_listed(out):
    xpt = {r["IETESTCD"]: r for r in pyreadstat.read_xport(str(out / "NCT02369484" / "ti.xpt"))[0].to_dict("records")}
    assert xpt["EXCL02"]["IETEST"] == LONG_IN_XPT and len(LONG_IN_XPT) == 198
    assert all(len(r["IETEST"].encode("ascii")) <= 200 for r in xpt.values())
    whole = {(r["STUDYID"], r["IETESTCD"]): r["IETEST"] for r in read_csv(out / "ti_all.csv")}
    assert whole["NCT02369484", "EXCL02"] == LONG
    assert whole["NCT02369484", "INCL09"] == "Age ≥ 18 years"  # ti_all.csv keeps the record's text
    changes = read_csv(out / "xpt_changes.csv")
    assert list(changes[0]) == ["STUDYID", "DOMAIN", "TSPARMCD", "TSSEQ", "IETESTCD", "change"]
    mine = [c for c in changes if c["STUDYID"] == "NCT02369484" and c["DOMAIN"] == "TI"]
    assert {
        "STUDYID": "NCT02369484", "DOMAIN": "TI", "TSPARMCD": "", "TSSEQ": "", "IETESTCD": "EXCL02",
        "change": "IETEST cut to 198 of 499 characters (whole in ti_all.csv and define.xml)",
    } in mine  # fmt: skip
    assert {
        "STUDYID": "NCT02369484", "DOMAIN": "TI", "TSPARMCD": "", "TSSEQ": "", "IETESTCD": "INCL09",
        "change": "IETEST: '≥'->'>='",
    } in mine  # fmt: skip
    # every criterion cut in ti.xpt is listed, and nothing else is cut
    cut = {c["IETESTCD"] for c in mine if c["change"].startswith("IETEST cut")}
    assert cut == {code for code, r in xpt.items() if r["IETEST"].endswith(CUT_MARK)}
    assert cut == {(code) for (study, code), text in whole.items() if study == "NCT02369484" and len(text) > 200}
    notes = (out.parent / "notes.txt").read_text(encoding="utf-8")
    assert "long criteria cut in IETEST (whole in ti_all.csv and define.xml)" in notes


def test_every_ti_value_comes_back_from_ti_all(out):
    """Over every study with criteria: each ti.xpt row is its ti_all.csv row, on one line, in ASCII, cut only
    where it passes 200 bytes (and then its start)."""
    whole = {(r["STUDYID"], r["IETESTCD"]): r for r in read_csv(out / "ti_all.csv")}
    files = sorted(out.glob("*/ti.xpt"))
    assert len(files) > 90
    cut_seen = 0
    for path in files:
        assert check_dataset(path) == ("TI", []), path
        for row in pyreadstat.read_xport(str(path))[0].fillna("").to_dict("records"):
            original = whole[row["STUDYID"], row["IETESTCD"]]
            text = transliterate(" ".join(original["IETEST"].split()))[0]
            assert row == dict(original, IETEST=cut(text) if len(text) > 200 else text)
            cut_seen += len(text) > 200
    assert cut_seen > 100


def test_define_xml_describes_ts_and_ti(out):
    schema = define_schema()
    doc = etree.parse(str(out / "NCT02369484" / "define.xml"))
    assert schema.validate(doc), schema.error_log
    groups = {g.get("Name"): g for g in doc.findall(".//odm:ItemGroupDef", NS)}
    assert list(groups) == ["TS", "TI"]
    ti = groups["TI"]
    assert ti.get(f"{{{NS['def']}}}Structure") == "One record per I/E criterion"
    assert ti.find("def:leaf", NS).get("{http://www.w3.org/1999/xlink}href") == "ti.xpt"
    refs = [(r.get("ItemOID"), r.get("Mandatory"), r.get("KeySequence")) for r in ti.findall("odm:ItemRef", NS)]
    assert refs == [
        ("IT.TI.STUDYID", "Yes", "1"), ("IT.TI.DOMAIN", "Yes", None), ("IT.TI.IETESTCD", "Yes", "2"),
        ("IT.TI.IETEST", "Yes", None), ("IT.TI.IECAT", "Yes", None), ("IT.TI.IESCAT", "No", None),
        ("IT.TI.TIRL", "No", None), ("IT.TI.TIVERS", "No", None),
    ]  # fmt: skip
    items = {i.get("OID"): i for i in doc.findall(".//odm:ItemDef", NS)}
    assert items["IT.TI.IETEST"].get("Length") == "200"  # the longest cut value: 200 at most
    assert items["IT.TI.IECAT"].find("odm:CodeListRef", NS).get("CodeListOID") == "CL.IECAT"
    # the whole text of the cut criterion, tied to its IETESTCD by value-level metadata
    assert items["IT.TI.IETEST.EXCL02"].find(".//odm:TranslatedText", NS).text == LONG
    clause = doc.find(".//def:WhereClauseDef[@OID='WC.TI.IETESTCD.EXCL02']", NS)
    assert clause.find(".//odm:CheckValue", NS).text == "EXCL02"
    iecat = doc.find(".//odm:CodeList[@OID='CL.IECAT']", NS)
    assert iecat.find("odm:Alias", NS).get("Name") == "C66797"
    assert {
        e.get("CodedValue"): e.find("odm:Alias", NS).get("Name") for e in iecat.findall("odm:EnumeratedItem", NS)
    } == {
        "INCLUSION": "C25532",
        "EXCLUSION": "C25370",
    }
    for path in sorted(out.glob("*/define.xml")):
        assert schema.validate(etree.parse(str(path))), (path, schema.error_log)


def test_a_block_not_split_gives_no_ti_and_the_report_says_so(out):
    # NCT03630471: "Eligibility criteria:" then "For adolescent participants:" ... no inclusion/exclusion heading
    assert sorted(p.name for p in (out / "NCT03630471").iterdir()) == ["define.xml", "ts.csv", "ts.xpt"]
    doc = etree.parse(str(out / "NCT03630471" / "define.xml"))
    assert [g.get("Name") for g in doc.findall(".//odm:ItemGroupDef", NS)] == ["TS"]
    assert "NCT03630471" not in {r["STUDYID"] for r in read_csv(out / "ti_all.csv")}
    notes = (out.parent / "notes.txt").read_text(encoding="utf-8")
    assert "have criteria that could not be split into items (criteria-unsplit)" in notes
    assert ti_rows(trial("NCT03630471", V2 / "NCT03630471.json")) == []


def test_criterion_codes_past_99_items():
    assert criterion_codes("INCL", 3) == ["INCL01", "INCL02", "INCL03"]
    assert criterion_codes("EXCL", 99)[-1] == "EXCL99"
    codes = criterion_codes("INCL", 150)
    assert codes[0] == "INCL001" and codes[99] == "INCL100" and codes[-1] == "INCL150" and codes == sorted(codes)
    assert criterion_codes("EXCL", 10_000)[-1] == "EXC10000"
    assert all(len(code) <= 8 for code in criterion_codes("INCL", 10_000))
    study = with_items(trial("NCT00763412", V2 / "NCT00763412.json"), [f"item {n}" for n in range(1, 151)], ["x"])
    rows = ti_rows(study)
    assert [r["IETESTCD"] for r in rows][98:101] == ["INCL099", "INCL100", "INCL101"]
    assert check_ti_rows(rows) == []


def test_non_ascii_and_multi_line_items_in_xpt():
    study = with_items(
        trial("NCT00763412", V2 / "NCT00763412.json"),
        ["Age ≥ 18 years", "Adequate organ function:\n- WBC ≥ 2000/μL\n  - checked twice"],
        ["x" * 250],  # no space to break at
    )
    data = ti_dataset(ti_rows(study))
    assert [r["IETEST"] for r in data.rows] == [
        "Age >= 18 years",
        "Adequate organ function: - WBC >= 2000/uL - checked twice",
        "x" * 194 + CUT_MARK,
    ]
    assert [(c.parameter, c.what) for c in data.changes] == [
        ("INCL01", "IETEST: '≥'->'>='"),
        ("INCL02", "IETEST: '≥'->'>=', 'μ'->'u'"),
        ("EXCL01", "IETEST cut to 200 of 250 characters (whole in ti_all.csv and define.xml)"),
    ]


def test_ti_rules_of_validate():
    good = ti_rows(
        with_items(trial("NCT00763412", V2 / "NCT00763412.json"), NCT00763412_INCLUSION, NCT00763412_EXCLUSION)
    )
    assert check_ti_rows(good) == []
    bad = [dict(good[0]), dict(good[0]), dict(good[1], IETESTCD="1INCL", IECAT="INCL"), dict(good[2], IETEST="")]
    assert check_ti_rows(bad) == [
        "IETESTCD INCL01 is used 2 times",
        "IETESTCD 1INCL: not 1 to 8 letters, digits or underscores starting with a letter",
        "IETESTCD 1INCL: IECAT 'INCL' is not INCLUSION or EXCLUSION",
        "IETESTCD INCL03: IETEST is empty",
    ]


def test_validate_command_checks_ti(out, tmp_path):
    def validate(*paths):
        return subprocess.run(
            [sys.executable, "-m", "trialport", "validate", *map(str, paths)], capture_output=True, text=True
        )

    run = validate(out / "NCT02369484", out / "NCT00763412")
    assert run.returncode == 0 and "4 valid, 0 invalid" in run.stdout  # ts.xpt and ti.xpt of each
    frame, _ = pyreadstat.read_xport(str(out / "NCT00763412" / "ti.xpt"))
    frame.loc[1, "IETESTCD"] = "INCL01"
    frame.loc[2, "IECAT"] = "ENTRY"
    pyreadstat.write_xport(frame, str(tmp_path / "ti.xpt"), table_name="TI", file_format_version=5)
    run = validate(tmp_path)
    assert run.returncode == 1 and "0 valid, 1 invalid" in run.stdout
    assert f"invalid TI {tmp_path / 'ti.xpt'}" in run.stdout
    assert "IETESTCD INCL01 is used 2 times" in run.stdout
    assert "IETESTCD INCL03: IECAT 'ENTRY' is not INCLUSION or EXCLUSION" in run.stdout


def by_parameter(rows) -> dict[str, list[tuple[str, str, str]]]:
    found: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        found.setdefault(row["TSPARMCD"], []).append((row["TSVAL"] or row["TSVALNF"], row["TSVALCD"], row["TSVCDREF"]))
    return found


def test_fcntry_tcntrl_outmspri_checked_by_hand():
    # NCT02552212: sites in United States (36), Australia, Bulgaria, Canada, Czechia, Hungary, Poland,
    # Russian Federation, Taiwan, in that order; arms EXPERIMENTAL and PLACEBO_COMPARATOR
    rows = ts_rows(trial("NCT02552212", V2 / "NCT02552212.json"))
    values = by_parameter(rows)
    assert [v for v, _, _ in values["FCNTRY"]] == ["USA", "AUS", "BGR", "CAN", "CZE", "HUN", "POL", "RUS", "TWN"]
    assert {(code, ref) for _, code, ref in values["FCNTRY"]} == {("", "ISO 3166")}
    assert [int(r["TSSEQ"]) for r in rows if r["TSPARMCD"] == "FCNTRY"] == list(range(1, 10))
    assert values["TCNTRL"] == [("PLACEBO", "C49648", "CDISC CT")]
    assert next(r for r in rows if r["TSPARMCD"] == "TCNTRL")["TSVCDVER"] == CT_VERSION
    # NCT02369484: Germany, Netherlands, Spain, Switzerland (twice); one arm, OTHER: no control
    values = by_parameter(ts_rows(trial("NCT02369484")))
    assert [v for v, _, _ in values["FCNTRY"]] == ["DEU", "NLD", "ESP", "CHE"]
    assert values["TCNTRL"] == [("NONE", "C41132", "CDISC CT")]
    # NCT00973089: arms NO_INTERVENTION and OTHER: no control; site in Israel
    values = by_parameter(ts_rows(trial("NCT00973089", V2 / "NCT00973089.json")))
    assert values["TCNTRL"] == [("NONE", "C41132", "CDISC CT")] and values["FCNTRY"] == [("ISR", "", "ISO 3166")]
    # NCT02856893: EXPERIMENTAL, EXPERIMENTAL, ACTIVE_COMPARATOR
    assert by_parameter(ts_rows(trial("NCT02856893")))["TCNTRL"] == [("ACTIVE", "C49649", "CDISC CT")]
    # NCT01100827: observational, no outcomes module at all, its one group has no type, site in Singapore
    rows = ts_rows(trial("NCT01100827"))
    values = by_parameter(rows)
    assert values["OUTMSPRI"] == [("NI", "", "")] and "OUTMSSEC" not in values
    assert values["FCNTRY"] == [("SGP", "", "ISO 3166")]
    assert check_ti_rows(ti_rows(trial("NCT01100827"))) == []


def test_a_country_without_a_code_keeps_its_name():
    # NCT01076361.xml lists a site in "Former Serbia and Montenegro" (no ISO 3166-1 code today)
    study = trial("NCT01076361", SERBIA)
    countries = list(dict.fromkeys(site.country for site in study.locations))
    values = by_parameter(ts_rows(study))["FCNTRY"]
    assert ("Former Serbia and Montenegro", "", "") in values
    assert len(values) == len(countries)
