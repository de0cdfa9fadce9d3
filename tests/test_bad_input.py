"""Hostile and broken inputs (tests/data/bad): each is read to exact counts and a clear reason, never a crash,
and the records around a bad one still convert."""

from __future__ import annotations

import importlib.util
import json
import resource
import shutil
import struct
import time
import zipfile
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from conftest import CTGOV, DATA, ROOT

from trialport.model import Trial
from trialport.pipeline import convert, read_file
from trialport.readers.base import Rejection
from trialport.readers.ctgov_json import ZIP_MEMBER_LIMIT

BAD = DATA / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
CANARY = (BAD / "secret" / "canary.txt").read_text(encoding="utf-8").strip()
STUDIES = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))


def nct(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


def converted(path: Path, out: Path) -> tuple[dict, list[dict]]:
    """Convert one file to canonical JSON; its report tally (checked to add up) and the trials written."""
    report = convert([path], out, formats=["json"])
    tally = vars(report.files[str(path)])
    assert tally["read"] == tally["converted"] + tally["skipped"] + tally["rejected"]
    assert report.totals()["read"] == tally["read"]
    lines = (out / "trials.jsonl").read_bytes().splitlines() if (out / "trials.jsonl").exists() else []
    return tally | {"problems": report.problems}, [orjson.loads(line) for line in lines]


def load_fuzz_targets() -> ModuleType:
    """fuzz/targets.py: the parse-on-bytes functions the fuzzers drive (fuzz/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fuzz_targets", ROOT / "fuzz" / "targets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_reads_to_its_expected_outcome(name, tmp_path, monkeypatch):
    expected = EXPECTED[name]
    monkeypatch.chdir(BAD)  # so a relative external entity (secret/canary.txt) would resolve, were it followed
    tally, trials = converted(BAD / name, tmp_path / "out")
    assert {key: tally[key] for key in ("converted", "skipped", "rejected")} == {
        key: expected[key] for key in ("converted", "skipped", "rejected")
    }
    assert len(trials) == expected["converted"]
    for problem in tally["problems"]:
        assert problem["path"] == str(BAD / name) and problem["reason"]
    if expected["reason"] is not None:
        assert any(expected["reason"] in problem["reason"] for problem in tally["problems"]), tally["problems"]
        assert expected["record"] in [problem["record"] for problem in tally["problems"]]
    if "diagnostic" in expected:
        assert any(expected["diagnostic"] in d["message"] for d in trials[0]["diagnostics"])


def test_external_entity_is_never_read(tmp_path, monkeypatch):
    monkeypatch.chdir(BAD)
    convert([BAD / "external-entity.xml"], tmp_path / "out")  # every format
    written = [path for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert any(path.name == "report.json" for path in written)
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path


def test_path_traversal_member_is_read_by_name_only(tmp_path):
    inside = tmp_path / "in" / "deep"
    inside.mkdir(parents=True)
    archive = shutil.copy(BAD / "path-traversal.zip", inside)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    _, trials = converted(Path(archive), tmp_path / "out")
    assert sorted(t["id"] for t in trials) == sorted(nct(s) for s in STUDIES[11:14])
    assert not any(p.name.startswith("evil") for p in tmp_path.parent.rglob("evil*.json"))
    after = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} - set(before)
    assert all(p.parts[0] == "out" for p in after), after


def test_formula_cells_are_read_as_their_text(tmp_path):
    _, trials = converted(BAD / "formulas.xlsx", tmp_path / "out")
    outcomes = [o for t in trials for o in t["outcomes"]]
    assert "=1+1" in [o["measure"] for o in outcomes]
    assert '=HYPERLINK("http://127.0.0.1:9/x","click")' in [o["description"] for o in outcomes]


def test_fifty_megabyte_line_is_refused_quickly_and_its_neighbours_convert(tmp_path):
    path = tmp_path / "huge-line.jsonl"
    with open(path, "wb") as handle:
        handle.write(orjson.dumps(STUDIES[0]) + b"\n")
        handle.write(b'{"protocolSection": {"identificationModule": {"briefTitle": "' + b"A" * 50_000_000 + b'"')
        handle.write(b"\n" + orjson.dumps(STUDIES[1]) + b"\n")
    rss, cpu = peak_rss_mb(), time.process_time()
    results = [record.result for record in read_file(path)]
    cpu = time.process_time() - cpu
    assert [r.id if isinstance(r, Trial) else r.record for r in results] == [nct(STUDIES[0]), "line 2", nct(STUDIES[1])]
    assert isinstance(results[1], Rejection) and results[1].reason.startswith("invalid JSON: unexpected end of data")
    assert len(results[1].reason) < 200
    assert cpu < 5, f"{cpu:.1f} s CPU"
    assert peak_rss_mb() - rss < 400  # the line, held once while it is parsed


def test_fifty_megabyte_seed_line_is_skipped_quickly(tmp_path):
    path = tmp_path / "huge-line.txt"
    path.write_bytes(b"A" * 50_000_000 + b"\nsecond line\n")
    cpu = time.process_time()
    (record,) = read_file(path)
    assert time.process_time() - cpu < 5
    assert record.status == "skipped" and "50,000,000-character paragraph, not a title" in record.result.reason


def zip_bomb(path: Path, size: int, declare: int | None = None) -> Path:
    """A .zip of a real study, a member of ``size`` spaces (a few hundred kB compressed), another real study.
    ``declare`` rewrites the bomb's recorded uncompressed size in both its headers: a header that lies."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("a.json", orjson.dumps(STUDIES[0]))
        with archive.open("bomb.json", "w", force_zip64=declare is None) as handle:
            chunk = b" " * (1 << 20)
            for _ in range(size >> 20):
                handle.write(chunk)
        archive.writestr("c.json", orjson.dumps(STUDIES[1]))
    if declare is not None:
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("bomb.json")
        local = info.header_offset
        struct.pack_into("<I", data, local + 22, declare)  # local header: uncompressed size
        central = data.find(b"PK\x01\x02" + data[local + 4 : local + 6])
        while data[central + 46 : central + 46 + 9] != b"bomb.json":
            central = data.find(b"PK\x01\x02", central + 4)
        struct.pack_into("<I", data, central + 24, declare)  # central directory: uncompressed size
        path.write_bytes(bytes(data))
    return path


def test_zip_bomb_is_refused_by_its_size_bound(tmp_path):
    size = ZIP_MEMBER_LIMIT + (16 << 20)
    path = zip_bomb(tmp_path / "bomb.zip", size)
    assert path.stat().st_size < 2_000_000
    rss, cpu = peak_rss_mb(), time.process_time()
    tally, trials = converted(path, tmp_path / "out")
    cpu = time.process_time() - cpu
    assert (tally["converted"], tally["rejected"], len(trials)) == (2, 1, 2)
    assert tally["problems"][0]["record"] == "bomb.json"
    assert f"member of {size:,} bytes exceeds the limit" in tally["problems"][0]["reason"]
    assert cpu < 5 and peak_rss_mb() - rss < 100


def test_zip_bomb_with_a_lying_header_is_refused(tmp_path):
    path = zip_bomb(tmp_path / "liar.zip", 64 << 20, declare=1000)
    rss, cpu = peak_rss_mb(), time.process_time()
    tally, trials = converted(path, tmp_path / "out")
    assert time.process_time() - cpu < 5 and peak_rss_mb() - rss < 100
    assert (tally["converted"], tally["rejected"], len(trials)) == (2, 1, 2)
    assert tally["problems"][0]["record"] == "bomb.json"
    assert "unreadable member" in tally["problems"][0]["reason"]


PARSERS = load_fuzz_targets().PARSERS
FUZZ_CASES = sorted((BAD / "fuzz").glob("*/*"))


@pytest.mark.parametrize("path", FUZZ_CASES, ids=[f"{p.parent.name}/{p.name}" for p in FUZZ_CASES])
def test_fuzz_regression_reads_to_a_trial_or_rejection(path):
    """Every input a fuzzer once crashed a reader with; the folder names the reader's parse function."""
    results = PARSERS[path.parent.name](path.read_bytes())
    assert results and all(isinstance(r, Trial | Rejection) for r in results)
    assert all(r.reason for r in results if isinstance(r, Rejection))
