"""The command line, run as a user runs it: a real process, real files, exit codes, stdout/stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CTGOV, ROOT, SEEDS


def trialport(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trialport", *args], cwd=cwd, capture_output=True, text=True)


def test_convert_seeds_writes_jsonl_and_report(tmp_path):
    run = trialport("convert", str(SEEDS), "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    lines = (tmp_path / "trials.jsonl").read_text(encoding="utf-8").splitlines()
    trials = [json.loads(line) for line in lines]
    assert [t["title"][:20] for t in trials] == [
        "Clinical Study of T ",
        "CD7 CAR-T in the Tre",
        "CD19 & CD22 Bispecif",
        "Anti-CD22 Chimeric A",
    ]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["totals"] == {"read": 5, "converted": 4, "skipped": 1, "rejected": 0}
    (problem,) = report["problems"]
    assert problem["status"] == "skipped" and problem["path"].endswith("002_ca20d1d532d87a91.txt")
    assert "not a registry record" in problem["reason"]
    exports = {e["exporter"]: e for e in report["exports"]}
    assert exports["json"]["trials"] == 4 and exports["fhir"]["trials"] == 4
    assert (tmp_path / "fhir" / "R5" / "bundle.json").exists() and not (tmp_path / "fhir" / "R4B").exists()
    assert "skipped: " in run.stdout and "002_ca20d1d532d87a91.txt" in run.stdout
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind


def test_convert_defaults_to_seeds_and_out(tmp_path):
    (tmp_path / "seeds").mkdir()
    for seed in SEEDS.iterdir():
        (tmp_path / "seeds" / seed.name).write_bytes(seed.read_bytes())
    run = trialport("convert", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len((tmp_path / "out" / "trials.jsonl").read_text(encoding="utf-8").splitlines()) == 4


def test_a_rejected_record_gives_exit_1_and_the_batch_goes_on(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a_empty.txt").write_bytes(b"")
    (inputs / "b_record.txt").write_bytes((SEEDS / "004_7c5a8bd566a2bac6.txt").read_bytes())
    run = trialport("convert", str(inputs), "--out", str(tmp_path / "out"))
    assert run.returncode == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["totals"] == {"read": 2, "converted": 1, "skipped": 0, "rejected": 1}
    assert report["problems"][0]["reason"] == "empty file"


def test_usage_errors_exit_2_without_traceback(tmp_path):
    for args in (
        ("convert", "no/such/path"),
        ("convert", str(SEEDS), "--to", "nope"),
        ("convert", str(SEEDS), "--fhir-version", "R2"),
        ("frobnicate",),
    ):
        run = trialport(*args, "--out", str(tmp_path)) if args[0] == "convert" else trialport(*args)
        assert run.returncode == 2, args
        assert "Traceback" not in run.stderr
    assert "unknown format nope" in trialport("convert", str(SEEDS), "--to", "nope").stderr


def test_inspect_json_lines_on_stdout_problems_on_stderr():
    run = trialport("inspect", str(SEEDS), "--json")
    assert run.returncode == 0
    trials = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(trials) == 4
    assert trials[3]["conditions"][0]["name"] == "B Cell Lymphoma"
    assert "002_ca20d1d532d87a91.txt" in run.stderr and "not a registry record" in run.stderr


def test_inspect_tree_shows_outcomes_and_diagnostics():
    run = trialport("inspect", str(SEEDS / "004_7c5a8bd566a2bac6.txt"))
    assert run.returncode == 0
    assert "One-month remission rate" in run.stdout and "time frame 1 month" in run.stdout
    coded = trialport("inspect", str(CTGOV / "aact-fixtures" / "v2-json" / "NCT00763412.json")).stdout
    assert "Cystic Fibrosis Related Diabetes" in coded and "mesh D000003550" in coded
    assert "registry-code-unattributed" in coded and "Prediabetic State" in coded


def test_formats_and_schema():
    formats = trialport("formats").stdout
    assert "seedtext" in formats and "json" in formats and "fhir" in formats
    schema = json.loads(trialport("schema").stdout)
    assert schema["title"] == "Trial"
    assert {"id", "identifiers", "title", "outcomes", "cell_therapy", "source", "diagnostics"} <= set(
        schema["properties"]
    )


def test_mixed_folder_of_every_format(tmp_path):
    run = trialport("convert", str(CTGOV), str(ROOT / "tests" / "data" / "legacy-csv"), "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    # 319 JSON + 245 CSV + 65 XML + 1 legacy CSV records; the folders' READMEs and LICENSE are not records
    assert report["totals"] == {"read": 633, "converted": 630, "skipped": 3, "rejected": 0}
    readers = {f["reader"] for f in report["files"]}
    assert readers == {"ctgov-json", "ctgov-csv", "ctgov-xml", "seedtext"}
    formats = {json.loads(line)["source"]["format"] for line in (tmp_path / "trials.jsonl").open(encoding="utf-8")}
    assert formats == {"ctgov-v2", "ctgov-classic", "ctgov-csv", "ctgov-csv-legacy", "ctgov-xml"}


def test_mapping_report_on_the_seeds():
    run = trialport("mapping-report", str(SEEDS))
    assert run.returncode == 0, run.stderr
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in run.stdout.splitlines() if "│" in line}
    assert lines["conditions with a code"] == "5 / 5 (100.0%)"
    assert lines["time frames parsed"] == "25 / 25 (100.0%)"
    assert lines["CAR trials with a target antigen"] == "4 / 4 (100.0%)"
    assert lines["CD22"] == "2"  # seeds 003 and 004
