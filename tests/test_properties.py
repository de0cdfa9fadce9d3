"""Property-based tests: whatever text, bytes or JSON a reader (or the time-frame parser) is given, it answers
with Trials and Rejections that name file, record and reason, never an exception, and a bad record does not
take its neighbours down with it. Every reader is driven through ``read_file``, the pipeline's entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialport.mapping import timeframes
from trialport.model import Trial
from trialport.pipeline import read_file
from trialport.readers.base import Rejection

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STUDIES = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))
REAL = [STUDIES[0], STUDIES[1]]
CSV_ROWS = list(csv.reader(io.StringIO((CTGOV / "mrd-aml-csv" / "ctg-studies.csv").read_text(encoding="utf-8"))))

# Keys the JSON readers give meaning to, so generated documents reach past the first dispatch.
KEYS = ["protocolSection", "studies", "FullStudiesResponse", "FullStudies", "Study", "ProtocolSection",
        "identificationModule", "conditionsModule", "conditions", "outcomesModule", "primaryOutcomes", "nctId",
        "resourceType", "entry", "resource", "extension", "url", "condition", "title", "id"]  # fmt: skip
INTEGERS = st.integers(min_value=-(2**70), max_value=2**70)
SCALARS = st.none() | st.booleans() | INTEGERS | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# A bad record for between two real ones: nothing a reader could take for a study.
NOT_A_STUDY = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
).filter(lambda v: not (isinstance(v, dict) and {"protocolSection", "studies", "Study", "ProtocolSection"} & set(v)))
PREFIXES = {
    "ctgov-json.json": b"{",
    "ctgov-json-array.json": b"[",
    "fhir.json": b'{"resourceType": "ResearchStudy", ',
    "ctgov-csv.csv": b"NCT Number,Study Title,Conditions\n",
    "ctgov-xml.xml": b"<clinical_study>",
    "seedtext.txt": b"",
    "xlsx.xlsx": b"PK\x03\x04",
}


def nct(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


def read(path: Path) -> list[Trial | Rejection]:
    """Every result of one file, each checked: a Trial, or a Rejection naming this file with a reason that
    comes from the reader itself (not the pipeline's last-resort catch of a reader that raised)."""
    results = [record.result for record in read_file(path)]  # none for an empty JSON array
    for result in results:
        assert isinstance(result, Trial | Rejection)
        if isinstance(result, Rejection):
            assert result.path == str(path) and result.reason.strip()
            assert "reader failed" not in result.reason, result.reason
    return results


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


@SETTINGS
@given(text=st.text(max_size=200) | st.from_regex(r"(Up to |Day |Week |within |approximately )?[0-9 ,.±+/-]{0,12}"
       r"(days?|weeks?|months?|years?|hours?|cycles?)?( after [a-z ]{0,20})?", fullmatch=True))  # fmt: skip
def test_time_frame_parser_keeps_text_and_never_raises(text):
    frame = timeframes.parse(text)
    assert frame.text == text
    assert frame.kind in ("duration", "timepoint", "schedule", "unparsed")
    if frame.kind == "unparsed":
        assert frame.value is None


@SETTINGS
@given(name=st.sampled_from(sorted(PREFIXES)), body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_read_to_trials_or_rejections(folder, name, body):
    path = folder / name
    path.write_bytes(PREFIXES[name] + body)
    read(path)


@SETTINGS
@given(document=JSON_LIKE)
def test_any_json_document_reads_to_trials_or_rejections(folder, document):
    for name, data in (
        ("plain.json", document),
        ("study.json", {"protocolSection": document}),
        ("module.json", {"protocolSection": {**REAL[0]["protocolSection"], "conditionsModule": document}}),
        ("fhir.json", {"resourceType": "ResearchStudy", "id": "x", **(document if isinstance(document, dict) else {})}),
        ("bundle.json", {"resourceType": "Bundle", "entry": document}),
    ):
        path = folder / name
        path.write_text(json.dumps(data), encoding="utf-8")  # json, not orjson: integers past 64 bits too
        read(path)


def around(results: list[Trial | Rejection]) -> tuple[Trial, list[Trial | Rejection], Trial]:
    first, *middle, last = results
    assert isinstance(first, Trial) and isinstance(last, Trial)
    assert (first.id, last.id) == (nct(REAL[0]), nct(REAL[1]))
    return first, middle, last


@SETTINGS
@given(bad=NOT_A_STUDY.map(json.dumps) | st.text(min_size=1, max_size=200))
def test_a_bad_json_line_between_two_studies(folder, bad):
    bad = bad.replace("\n", " ")
    if not bad.strip():
        bad = "?"
    path = folder / "three.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(REAL[0]), bad.encode(), orjson.dumps(REAL[1])]) + b"\n")
    _, middle, _ = around(read(path))
    assert middle and all(isinstance(r, Rejection) and r.record == "line 2" for r in middle)


@SETTINGS
@given(bad=NOT_A_STUDY)
def test_a_bad_item_in_a_json_array_between_two_studies(folder, bad):
    path = folder / "three.json"
    path.write_text(json.dumps([REAL[0], bad, REAL[1]]), encoding="utf-8")
    _, middle, _ = around(read(path))
    assert middle and all(isinstance(r, Rejection) and r.record == "#2" for r in middle)


@SETTINGS
@given(cells=st.lists(st.text(max_size=40), min_size=1, max_size=30))
def test_a_ragged_csv_row_between_two_rows(folder, cells):
    header, first, last = CSV_ROWS[0], CSV_ROWS[1], CSV_ROWS[2]
    if len(cells) == len(header):
        cells = cells[:-1]
    if not any(cell.strip() for cell in cells):
        cells = [*cells, "x"]
    out = io.StringIO()
    csv.writer(out).writerows([header, first, cells, last])
    path = folder / "three.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    results = read(path)
    assert [r.id for r in results if isinstance(r, Trial)] == [first[0], last[0]]
    (bad,) = [r for r in results if isinstance(r, Rejection)]
    assert f"row 3 has {len(cells)} cells" in bad.reason
    assert bad.record in (cells[0].strip(), "row 3")


@pytest.fixture(scope="module")
def fhir_studies(folder) -> list[dict]:
    """Two real studies as FHIR R5 ResearchStudy resources, made by the exporter's builder."""
    from trialport.fhir.build import resources

    path = folder / "real.json"
    path.write_bytes(orjson.dumps(REAL))
    return [resources(record.result, "R5")[0] for record in read_file(path)]


@SETTINGS
@given(bad=JSON_LIKE.map(json.dumps) | st.text(min_size=1, max_size=200))
def test_a_bad_ndjson_line_between_two_fhir_studies(folder, fhir_studies, bad):
    bad = bad.replace("\n", " ").strip() or "?"
    lines = [orjson.dumps(fhir_studies[0]), bad.encode(), orjson.dumps(fhir_studies[1])]
    path = folder / "three.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = read(path)
    trials = [r for r in results if isinstance(r, Trial)]
    assert [trials[0].id, trials[-1].id] == [nct(REAL[0]), nct(REAL[1])]
    assert all(r.record == "line 2" for r in results[1:-1])  # a ResearchStudy line may convert, anything else not


XLSX_VALUES = st.none() | INTEGERS.filter(lambda i: abs(i) < 2**53) | st.floats(allow_nan=False, allow_infinity=False)
XLSX_VALUES |= st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30) | st.sampled_from(
    ["=1+1", '=HYPERLINK("http://127.0.0.1:9","x")', "=A1", "primary", "secondary", "#REF!"]
)


@settings(SETTINGS, max_examples=15)  # a workbook is saved and opened each time
@given(values=st.lists(XLSX_VALUES, min_size=15, max_size=15))
def test_any_cell_values_in_an_endpoints_row(folder, values):
    """One Endpoints row overwritten with generated values (formulas among them): only that row may fail."""
    import warnings

    from conftest import ROOT
    from openpyxl import load_workbook

    workbook = load_workbook(ROOT / "examples" / "out" / "endpoints.xlsx")
    sheet = workbook["Endpoints"]
    trials = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    for column, value in enumerate(values, 1):
        sheet.cell(row=2, column=column, value=value)
    path = folder / "edited.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook.save(path)
        results = read(path)
    assert {r.id for r in results if isinstance(r, Trial)} >= trials - {values[1]} - {None}
    assert all(r.record == "Endpoints row 2" for r in results if isinstance(r, Rejection))
