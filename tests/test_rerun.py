"""Re-running ``convert`` on the same input gives the same bytes. The only differences are the documented
timestamps (report.json started/finished; the creation time in endpoints.xlsx's properties and About sheet,
define.xml's CreationDateTime and ts.xpt's headers), and with SOURCE_DATE_EPOCH set only report.json's remain."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import orjson
from conftest import CTGOV, SEEDS

from trialport.pipeline import convert

INPUTS = [CTGOV, SEEDS]
OPTIONS = {"fhir_version": "all"}
ISO = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|\+00:00)?")
SAS = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")  # XPT header datetime, ddMMMyy:hh:mm:ss


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def members(xlsx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def masked(name: str, data: bytes) -> object:
    """The file with its documented timestamps masked."""
    if name == "report.json":
        return {k: v for k, v in orjson.loads(data).items() if k not in ("started", "finished")}
    if name == "endpoints.xlsx":
        return {member: ISO.sub(b"<time>", content) for member, content in members(data).items()}
    if name.endswith("/define.xml"):
        return re.sub(rb'CreationDateTime="[^"]*"', b'CreationDateTime=""', data)
    if name.endswith(("/ts.xpt", "/ti.xpt")):
        return SAS.sub(b"<time>", data)
    return data


def test_rerun_same_bytes_but_documented_timestamps(tmp_path):
    out = tmp_path / "out"
    convert(INPUTS, out, options={**OPTIONS, "created": "2024-01-02T03:04:05+00:00"})
    first = snapshot(out)
    convert(INPUTS, out, options={**OPTIONS, "created": "2025-06-07T08:09:10+00:00"})
    second = snapshot(out)
    assert sorted(first) == sorted(second) and len(first) > 200
    differ = {name for name in first if first[name] != second[name]}
    stamped = {name for name in first if name.endswith(("/define.xml", "/ts.xpt", "/ti.xpt"))}
    assert differ - {"report.json"} == stamped | {"endpoints.xlsx"}  # every one of them carries the time
    for name in differ:
        assert masked(name, first[name]) == masked(name, second[name]), name
    before, after = members(first["endpoints.xlsx"]), members(second["endpoints.xlsx"])
    about = "xl/worksheets/sheet11.xml"  # the About sheet, last of eleven
    assert {m for m in before if before[m] != after[m]} == {"docProps/core.xml", about}
    assert b"2024-01-02T03:04:05Z" in before["docProps/core.xml"] and b"2024-01-02T03:04:05" in before[about]
    define = first["cdisc/NCT00973089/define.xml"]
    assert b'CreationDateTime="2024-01-02T03:04:05"' in define
    assert b"02JAN24:03:04:05" in first["cdisc/NCT00973089/ts.xpt"]


def test_source_date_epoch_makes_every_file_but_the_run_log_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    convert(INPUTS, tmp_path / "a", options=OPTIONS)
    convert(INPUTS, tmp_path / "b", options=OPTIONS, jobs=2)
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == ["report.json"]
    moved = b["report.json"].replace(str(tmp_path / "b").encode(), str(tmp_path / "a").encode())
    assert masked("report.json", a["report.json"]) == masked("report.json", moved)
    assert b'CreationDateTime="2023-11-14T22:13:20"' in a["cdisc/NCT00973089/define.xml"]
    assert b"14NOV23:22:13:20" in a["cdisc/NCT00973089/ts.xpt"]
    assert b"2023-11-14T22:13:20Z" in members(a["endpoints.xlsx"])["docProps/core.xml"]
