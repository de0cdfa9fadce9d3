"""``convert`` into a folder that holds a previous run's outputs leaves exactly this run's outputs: what the
previous run wrote and this one did not is removed; what trialport never wrote is left alone."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, SEEDS

from trialport import atomic
from trialport.pipeline import convert

V2 = CTGOV / "aact-fixtures" / "v2-json"


def outputs(folder: Path) -> set[str]:
    """Every file under ``folder`` but hidden ones (the manifest), as relative paths."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def test_a_second_run_leaves_exactly_its_own_outputs(tmp_path):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    first = convert([V2, SEEDS], out, ["json", "fhir", "cdisc"])
    before = outputs(out)
    v2_ids = {f"NCT{p.stem[3:]}".upper() for p in V2.glob("*.json")}
    assert any(name.startswith("cdisc/NCT") for name in before) and first.stale_removed == 0
    (out / "notes.txt").write_text("the coordinator's own file")
    (out / "fhir" / "R5" / "mine.json").write_text("{}")

    second = convert([SEEDS], out, ["json", "fhir"])
    convert([SEEDS], fresh, ["json", "fhir"])
    assert outputs(out) == outputs(fresh) | {"notes.txt", "fhir/R5/mine.json"}
    gone = before - outputs(fresh)
    assert any(name.startswith("cdisc/") for name in gone)  # a format no longer asked for
    assert any(name.startswith("fhir/R5/") and name[8:-5] in v2_ids for name in gone)  # a study no longer in
    assert second.stale_removed == len(gone)
    assert orjson.loads((out / "report.json").read_bytes())["stale_removed"] == len(gone)
    assert not (out / "cdisc").exists()  # folders emptied by the removal go too


def test_the_first_run_into_a_used_folder_removes_nothing(tmp_path):
    out = tmp_path / "out"
    (out / "fhir" / "R5").mkdir(parents=True)
    (out / "fhir" / "R5" / "NCT00000000.json").write_text("{}")  # looks like ours, but no manifest says so
    report = convert([SEEDS], out, ["fhir"])
    assert (out / "fhir" / "R5" / "NCT00000000.json").read_text() == "{}" and report.stale_removed == 0


def test_the_manifest_lists_what_the_run_wrote(tmp_path):
    out = tmp_path / "out"
    convert([SEEDS], out, ["json", "fhir"])
    listed = (out / atomic.MANIFEST).read_text(encoding="utf-8").splitlines()
    assert set(listed) == outputs(out) and len(listed) == len(set(listed))
    assert "report.json" in listed and "trials.jsonl" in listed
    convert([SEEDS], out, ["json", "fhir"])
    assert (out / atomic.MANIFEST).read_text(encoding="utf-8").splitlines() == listed  # same run, same manifest


def test_a_failed_run_removes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    convert([V2, SEEDS], out, ["json", "fhir"])
    before = {name: (out / name).read_bytes() for name in outputs(out)}
    manifest = (out / atomic.MANIFEST).read_bytes()

    def broken(self, rendered):
        raise OSError("disk full")

    from trialport.exporters.fhir import FhirExporter

    monkeypatch.setattr(FhirExporter, "write_rendered", broken)
    with pytest.raises(OSError, match="disk full"):
        convert([SEEDS], out, ["json", "fhir"])
    assert {name: (out / name).read_bytes() for name in outputs(out)} == before
    assert (out / atomic.MANIFEST).read_bytes() == manifest


def test_a_manifest_line_outside_the_folder_is_ignored(tmp_path):
    out = tmp_path / "out"
    convert([SEEDS], out, ["json"])
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    with open(out / atomic.MANIFEST, "a", encoding="utf-8") as manifest:
        manifest.write("../precious.txt\n" + str(outside) + "\n")
    convert([SEEDS], out, ["json"])
    assert outside.read_text() == "keep"
