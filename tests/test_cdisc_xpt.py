"""The SAS XPORT v5 writer: IBM doubles checked by hand, files read back by pyreadstat and pandas, byte for byte
the same as pyreadstat's own writer (timestamps aside), and the study folder written whole or not at all."""

from __future__ import annotations

import math
import os
import pickle
import struct
from datetime import datetime
from pathlib import Path

import pandas
import pyreadstat
import pytest
from conftest import CTGOV

from trialport import pipeline
from trialport.cdisc.dataset import dataset
from trialport.cdisc.files import write_folder
from trialport.cdisc.ts import ts_rows
from trialport.cdisc.xpt import RECORD, ibm_double, read_xpt, sas_datetime, xpt_bytes
from trialport.exporters.cdisc import CdiscExporter, RenderedStudy

WHEN = datetime(2024, 3, 5, 6, 7, 8)
TIMESTAMPS = (0x90, 0xA0, 0x1D0, 0x1E0)  # where the library and member headers hold their 16-byte timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 0x4110000000000000),  # 1 = 0x.1 * 16**1
        (-1, 0xC110000000000000),  # the same with the sign bit
        (0.5, 0x4080000000000000),  # 0x.8 * 16**0
        (100, 0x4264000000000000),  # 100 = 0x64 = 0x.64 * 16**2
        (0.1, 0x401999999999999A),  # IEEE 0.1 = 0x1.999999999999Ap-4: all 53 bits kept
        (0, 0),
        (None, 0x2E00000000000000),  # SAS missing "."
        (math.nan, 0x2E00000000000000),
    ],
)
def test_ibm_double_of_values_worked_out_by_hand(value, expected):
    assert ibm_double(value) == expected.to_bytes(8, "big")


def test_ibm_double_round_trips_and_refuses_what_ibm_cannot_hold():
    for value in (3, 25, 1e-5, 123456789.125, -7.75, 16.0**60, 2.0**-200):
        word = int.from_bytes(ibm_double(value), "big")
        sign = -1 if word >> 63 else 1
        back = sign * (word & ((1 << 56) - 1)) / 2.0**56 * 16.0 ** (((word >> 56) & 0x7F) - 64)
        assert back == value or (value < 16.0**-65 and back == 0)
    with pytest.raises(ValueError):
        ibm_double(1e80)  # above 16**63
    with pytest.raises(ValueError):
        ibm_double(math.inf)


def test_sas_datetime_is_locale_free():
    assert sas_datetime(WHEN) == "05MAR24:06:07:08"
    assert sas_datetime(datetime(2031, 12, 31, 23, 59, 1)) == "31DEC31:23:59:01"


def test_written_file_read_back_by_pyreadstat_and_pandas(tmp_path):
    numbers = [1, -2.5, None, 0.1, 123456789, 1e-10, *range(6, 1006)]  # 1006 rows: many observation records
    texts = ["a", "", "x" * 200, " leading", "", "b", *(f"row {n}" for n in range(6, 1006))]
    codes = ["C1"] * len(numbers)
    data = xpt_bytes(
        [("SEQ", "A number", numbers), ("VALUE", "Some text", texts), ("CODE", "A code", codes)],
        WHEN,
        name="DS",
        label="A dataset",
    )
    assert len(data) % RECORD == 0
    assert data.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 30 + b"  ")
    assert data[0x90:0xA0] == b"05MAR24:06:07:08"
    path = tmp_path / "ds.xpt"
    path.write_bytes(data)
    frame, meta = pyreadstat.read_xport(str(path))
    other = pandas.read_sas(path, format="xport", encoding="ascii")
    assert meta.table_name == "DS" and meta.file_label == "A dataset"
    assert meta.column_names_to_labels == {"SEQ": "A number", "VALUE": "Some text", "CODE": "A code"}
    assert meta.variable_storage_width == {"SEQ": 8, "VALUE": 200, "CODE": 2}
    assert meta.readstat_variable_types == {"SEQ": "double", "VALUE": "string", "CODE": "string"}
    for read in (frame, other):
        assert list(read.columns) == ["SEQ", "VALUE", "CODE"] and len(read) == 1006
        got = [None if math.isnan(v) else v for v in read["SEQ"]]
        assert got == [float(n) if n is not None else None for n in numbers]
        assert list(read["VALUE"].fillna("")) == texts
        assert set(read["CODE"]) == {"C1"}


def _masked(data: bytes) -> bytes:
    data = bytearray(data)
    for offset in TIMESTAMPS:
        data[offset : offset + 16] = b"-" * 16
    return bytes(data)


def test_same_bytes_as_pyreadstat_for_real_studies(tmp_path):
    """Real TS datasets (values split into TSVAL1.., numbers, empty columns) as pyreadstat writes them."""
    trials = list(pipeline.trials([CTGOV / "aact-fixtures" / "legacy-xml"]))[:12]
    split = 0
    for trial in trials:
        data = dataset(ts_rows(trial))
        split += "TSVAL1" in data.columns
        mine = xpt_bytes(
            [(n, data.labels[n], v) for n, v in zip(data.columns, data.by_column, strict=True)],
            WHEN,
            name="TS",
            label="Trial Summary",
        )
        path = tmp_path / f"{trial.id}.xpt"
        pyreadstat.write_xport(
            pandas.DataFrame(data.rows, columns=data.columns),
            str(path),
            file_label="Trial Summary",
            column_labels=[data.labels[c] for c in data.columns],
            table_name="TS",
            file_format_version=5,
        )
        assert _masked(mine) == _masked(path.read_bytes()), trial.id
    assert split >= 1


def test_what_xport_v5_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="ASCII"):
        xpt_bytes([("V", "label", ["caf\u00e9"])], WHEN)
    with pytest.raises(ValueError, match="too long"):
        xpt_bytes([("NINECHARS", "label", ["x"])], WHEN)
    with pytest.raises(ValueError, match="too long"):
        xpt_bytes([("V", "x" * 41, ["x"])], WHEN)
    with pytest.raises(ValueError, match="only text or only numbers"):
        xpt_bytes([("V", "label", ["x", 1])], WHEN)
    with pytest.raises(ValueError, match="same number of values"):
        xpt_bytes([("A", "a", ["x", "y"]), ("B", "b", ["z"])], WHEN)


def test_namestr_records_describe_each_variable():
    data = xpt_bytes([("ID", "Identifier", ["abc", "de"]), ("N", "Number", [1, 2])], WHEN, name="DS")
    start = data.index(b"NAMESTR HEADER") - 20 + RECORD
    first, second = data[start : start + 140], data[start + 140 : start + 280]
    assert struct.unpack(">hhhh8s40s", first[:56]) == (2, 0, 3, 1, b"ID      ", b"Identifier".ljust(40))
    assert struct.unpack(">hhhh8s", second[:16]) == (1, 0, 8, 2, b"N       ")
    assert struct.unpack(">i", second[84:88]) == (3,)  # N starts after ID's 3 bytes
    observations = data[data.index(b"OBS     HEADER") - 20 + RECORD :]
    assert observations == (b"abc" + ibm_double(1) + b"de " + ibm_double(2)).ljust(RECORD)


def test_study_folder_appears_whole_or_is_replaced_file_by_file(tmp_path):
    folder = str(tmp_path / "S1")
    write_folder(folder, [("a.txt", b"one"), ("b.txt", b"two")])
    assert sorted(os.listdir(folder)) == ["a.txt", "b.txt"] and Path(folder, "a.txt").read_bytes() == b"one"
    Path(folder, "mine.txt").write_bytes(b"kept")
    write_folder(folder, [("a.txt", b"ONE"), ("b.txt", b"TWO")])  # the folder exists: each file replaced
    assert Path(folder, "a.txt").read_bytes() == b"ONE" and Path(folder, "mine.txt").read_bytes() == b"kept"
    with pytest.raises(OSError):
        write_folder(folder, [("a.txt", b"new"), ("no/such/dir.txt", b"fails")])
    assert Path(folder, "a.txt").read_bytes() == b"ONE"  # nothing half-done
    write_folder(folder, [("a.txt", b"1")], stale=("b.txt", "c.txt"))  # a study's TI files it no longer has
    assert sorted(os.listdir(folder)) == ["a.txt", "mine.txt"]
    with pytest.raises(OSError):
        write_folder(str(tmp_path / "S2"), [("a.txt", b"x"), ("no/such/dir.txt", b"fails")])
    assert sorted(os.listdir(tmp_path)) == ["S1"]  # no S2, no staging folder left behind


def test_render_is_picklable_and_write_rendered_writes_it(tmp_path):
    trials = list(pipeline.trials([CTGOV / "aact-fixtures" / "legacy-xml"]))[:3]
    rendered = [pickle.loads(pickle.dumps(CdiscExporter.render(t, {}))) for t in trials]
    assert all(isinstance(r, RenderedStudy) for r in rendered)
    exporter = CdiscExporter(tmp_path)
    for item in [*rendered, rendered[0]]:  # the first study twice
        exporter.write_rendered(item)
    summary = exporter.close()
    assert summary.trials == 4
    assert any("came more than once" in note and trials[0].id in note for note in summary.notes)
    folder = tmp_path / "cdisc" / trials[0].id
    # NCT00001177's criteria are split into items: it has a TI dataset; NCT00023673's are not: it has none
    assert {p.name for p in folder.iterdir()} == {"ts.xpt", "ts.csv", "ti.xpt", "ti.csv", "define.xml"}
    assert {p.name for p in (tmp_path / "cdisc" / trials[1].id).iterdir()} == {"ts.xpt", "ts.csv", "define.xml"}
    assert (folder / "ts.csv").read_bytes() == dict(rendered[0].files)["ts.csv"]
    overview = (tmp_path / "cdisc" / "ts_all.csv").read_bytes()
    assert overview.count(b"\n") == 1 + sum(r.overview.count(b"\n") for r in [*rendered, rendered[0]])
    frame, _ = pyreadstat.read_xport(str(folder / "ts.xpt"))
    assert frame["STUDYID"].tolist() == [trials[0].id] * len(frame)


def test_reader_reads_our_files_and_pyreadstats_alike(tmp_path):
    numbers = [1.0, -2.5, None, 0.1, 123456789.0, 1e-10, 42.0]
    texts = ["a", "", "x" * 200, " leading", "tail", "", "z"]
    ours = xpt_bytes([("SEQ", "A number", numbers), ("VALUE", "Some text", texts)], WHEN, name="DS")
    assert read_xpt(ours) == (["SEQ", "VALUE"], [{"SEQ": n, "VALUE": t} for n, t in zip(numbers, texts, strict=True)])
    path = tmp_path / "theirs.xpt"
    frame = pandas.DataFrame({"SEQ": [math.nan if n is None else n for n in numbers], "VALUE": texts})
    pyreadstat.write_xport(frame, str(path), table_name="DS", file_format_version=5)
    columns, rows = read_xpt(path.read_bytes())
    back, _ = pyreadstat.read_xport(str(path))
    assert columns == list(back.columns)
    assert rows == [
        {"SEQ": None if math.isnan(r["SEQ"]) else r["SEQ"], "VALUE": r["VALUE"]} for r in back.to_dict("records")
    ]
    assert rows[2] == {"SEQ": None, "VALUE": "x" * 200}
    for broken in (b"not an xpt", ours[:700], ours[:560] + b"x" * 80 + ours[640:]):
        with pytest.raises(ValueError):
            read_xpt(broken)
