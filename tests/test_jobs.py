"""``convert --jobs N``: the same bytes as one process, every record accounted for, input order kept,
a bounded window of work in flight, and a clean stop when the run is interrupted."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import CTGOV, ROOT, SEEDS, v2_studies

from trialport import parallel, pipeline, plugins
from trialport.exporters.base import Exporter
from trialport.parallel import Converted
from trialport.readers import ctgov_json

# Run-time stamps some formats carry by design (Define-XML, XPT headers, workbook properties).
STAMPS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?|\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")


def jsonl_with_a_bad_line(folder: Path) -> tuple[Path, list[str]]:
    """Every API v2 study in tests/data as JSON Lines, a broken line and a blank one in the middle."""
    studies = v2_studies()
    lines = [json.dumps(s) for s in studies]
    middle = len(lines) // 2
    lines[middle:middle] = ['{"protocolSection": {"identificationModule": ', ""]
    path = folder / "studies.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    return path, ids


def files_of(out: Path) -> dict[str, bytes]:
    """Every output file's bytes, time stamps masked; a .xlsx (a zip) member by member."""
    found = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == "report.json":
            continue
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = b"\0".join(name.encode() + b"\0" + archive.read(name) for name in sorted(archive.namelist()))
        found[str(path.relative_to(out))] = STAMPS.sub(b"<time>", data)
    return found


def report_of(out: Path) -> dict:
    """The run report without its start and finish times, paths relative to the output folder."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8").replace(str(out), "OUT"))
    return {k: v for k, v in report.items() if k not in ("started", "finished")}


def test_jobs_2_writes_the_bytes_of_jobs_1_in_every_format(tmp_path, monkeypatch):
    monkeypatch.setattr(ctgov_json, "BATCH_BYTES", 50_000)  # the JSON Lines file in many batches
    source, ids = jsonl_with_a_bad_line(tmp_path)
    formats = list(plugins.exporters())
    assert {"fhir", "json"} <= set(formats)
    options = {"fhir_version": "all"}
    inputs = [CTGOV, SEEDS, source]
    one = pipeline.convert(inputs, tmp_path / "one", formats, options=options, jobs=1)
    two = pipeline.convert(inputs, tmp_path / "two", formats, options=options, jobs=2)
    # tests/data/ctgov and seeds: 636 records, 633 trials; the JSON Lines file: its studies and one broken line
    expected = {"read": 636 + len(ids) + 1, "converted": 633 + len(ids), "skipped": 3, "rejected": 1}
    assert one.totals() == two.totals() == expected
    first, second = files_of(tmp_path / "one"), files_of(tmp_path / "two")
    assert len(first) > 1300 and "fhir/R4B/bundle.json" in first and "trials.jsonl" in first
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert report_of(tmp_path / "one") == report_of(tmp_path / "two")


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_a_bad_line_is_rejected_by_number_and_the_rest_converts_in_order(tmp_path, monkeypatch, start):
    monkeypatch.setattr(parallel, "START_METHOD", start)
    monkeypatch.setattr(ctgov_json, "BATCH_BYTES", 30_000)
    source, ids = jsonl_with_a_bad_line(tmp_path)
    records = []
    report = pipeline.convert([source], tmp_path / "out", ["json"], on_record=records.append, jobs=2)
    bad_line = len(ids) // 2 + 1
    assert report.totals() == {"read": len(ids) + 1, "converted": len(ids), "skipped": 0, "rejected": 1}
    (problem,) = report.problems
    assert problem["path"] == str(source) and problem["record"] == f"line {bad_line}"
    assert problem["reason"].startswith("invalid JSON")
    assert report.exit_code == 1
    written = (tmp_path / "out" / "trials.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in written] == ids
    # what the progress callback sees: every record in input order, the trials as their ids
    assert [r.status for r in records].count("rejected") == 1 and records[len(ids) // 2].status == "rejected"
    converted = [r.result for r in records if r.status == "converted"]
    assert all(isinstance(c, Converted) for c in converted) and [c.id for c in converted] == ids
    assert converted[-1].path == str(source) and converted[-1].record == ids[-1]


def test_a_large_file_no_reader_cuts_streams_in_the_writing_process(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "LOCAL_FILE_BYTES", 10_000)  # the CSV export and most seeds count as large
    inputs = [CTGOV / "mrd-aml-csv", SEEDS, CTGOV / "aact-fixtures" / "v2-json"]
    one = pipeline.convert(inputs, tmp_path / "one", ["json"], jobs=1)
    two = pipeline.convert(inputs, tmp_path / "two", ["json"], jobs=2)
    assert one.totals() == two.totals() and one.totals()["converted"] > 20
    assert (tmp_path / "two" / "trials.jsonl").read_bytes() == (tmp_path / "one" / "trials.jsonl").read_bytes()


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_an_idle_worker_waits_for_work(start):
    """A worker idles while the writing process streams a large file itself. Under forkserver its parent
    is the fork server, which it must not take for the writing process having gone."""
    worker = parallel.Worker(multiprocessing.get_context(start), ["json"], {})
    try:
        time.sleep(2.5)  # longer than the worker's one-second watch on its parent
        assert worker.process.is_alive()
        seed = sorted(SEEDS.glob("*.txt"))[0]
        worker.send(parallel.Unit(seed, "seedtext"))
        [outcome] = worker.receive()
        assert outcome.result.path == str(seed) and outcome.rendered is not None
    finally:
        worker.stop()


def test_at_most_two_units_per_job_are_in_flight(tmp_path):
    files = list(pipeline.iter_files([SEEDS, CTGOV / "aact-fixtures"]))
    assert len(files) > 20
    pulled, seen_at_first_record = [], []

    def paths():
        for path in files:
            pulled.append(path)
            yield path

    def on_record(record):
        if not seen_at_first_record:
            seen_at_first_record.append(len(pulled))

    report = pipeline.convert(paths(), tmp_path, ["json"], on_record=on_record, jobs=2)
    assert report.totals()["read"] >= len(files) and pulled == files
    assert seen_at_first_record == [4]  # 2 * jobs files cut into units before the first is written


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_an_interrupted_run_stops_its_workers_and_leaves_no_output(tmp_path, monkeypatch, start):
    monkeypatch.setattr(parallel, "START_METHOD", start)
    count = 0

    def interrupt(record):
        nonlocal count
        count += 1
        if count == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.convert([CTGOV], tmp_path, ["json", "fhir"], on_record=interrupt, jobs=2)
    assert list(tmp_path.rglob("*")) == []  # nothing published, nothing staged left behind
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []
    again = pipeline.convert([SEEDS], tmp_path, ["json"], jobs=2)  # and the next run is unaffected
    assert again.totals()["converted"] == 4


def test_fhir_outputs_picks_the_files(tmp_path):
    full = pipeline.convert([SEEDS], tmp_path / "full", ["fhir"])
    ndjson = pipeline.convert([SEEDS], tmp_path / "ndjson", ["fhir"], options={"fhir_outputs": "ndjson"}, jobs=2)
    folder = tmp_path / "ndjson" / "fhir" / "R5"
    kinds = ["ResearchStudy", "Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{kind}.ndjson" for kind in kinds)
    for kind in kinds:
        name = f"{kind}.ndjson"
        assert (folder / name).read_bytes() == (tmp_path / "full" / "fhir" / "R5" / name).read_bytes()
    assert [Path(f).name for f in ndjson.exports[0].files] == [f"{kind}.ndjson" for kind in kinds]
    assert len(full.exports[0].files) == 8  # the bundle and the NDJSON files
    pipeline.convert([SEEDS], tmp_path / "studies", ["fhir"], options={"fhir_outputs": ["study", "bundle"]})
    names = sorted(p.name for p in (tmp_path / "studies" / "fhir" / "R5").iterdir())
    assert "bundle.json" in names and len(names) == 5 and not any(n.endswith(".ndjson") for n in names)
    with pytest.raises(ValueError, match="unknown FHIR output xml; choose one or more of study, bundle, ndjson"):
        pipeline.convert([SEEDS], tmp_path / "bad", ["fhir"], options={"fhir_outputs": "ndjson,xml"})


def trialport(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trialport", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
    ("option", "message"),
    [("--fhir-outputs=study,xml", "unknown FHIR output xml"), ("--jobs=0", "give 1 or more processes")],
)
def test_cli_refuses_a_bad_value_as_a_usage_error(tmp_path, option, message):
    run = trialport("convert", str(SEEDS), "--out", str(tmp_path), option)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "report.json").exists()


def test_a_plugin_that_only_overrides_write_works_under_jobs(tmp_path):
    """The example Markdown exporter, registered through its entry point, on one core and on two."""
    site = tmp_path / "site"
    info = site / "trialport_markdown-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trialport-markdown\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[trialport.exporters]\nmarkdown = trialport_markdown:MarkdownExporter\n")
    path = os.pathsep.join([str(site), str(ROOT / "examples" / "markdown-exporter")])
    env = {**os.environ, "PYTHONPATH": path}
    inputs = [str(SEEDS), str(CTGOV / "nsclc-v2-json")]
    for jobs in ("1", "2"):
        run = trialport("convert", *inputs, "--to", "markdown,json", "--out", str(tmp_path / jobs), "-j", jobs, env=env)
        assert run.returncode == 0, run.stderr
    rows = (tmp_path / "2" / "endpoints.md").read_text(encoding="utf-8").splitlines()
    assert "| primary | DLT | Up to 2 years |" in rows[2 + 2]  # the first seed's endpoints come first
    assert len(rows) > 2 + 2 + 4 + 11 + 8
    assert (tmp_path / "2" / "endpoints.md").read_bytes() == (tmp_path / "1" / "endpoints.md").read_bytes()
    assert (tmp_path / "2" / "trials.jsonl").read_bytes() == (tmp_path / "1" / "trials.jsonl").read_bytes()


class Exploding(Exporter):
    """An exporter whose ``render`` fails on one trial: in a worker, as it would in one process."""

    name = "exploding"
    description = "fails on NCT00973089"

    @classmethod
    def render(cls, trial, options):
        if trial.id == "NCT00973089":
            raise RuntimeError(f"cannot render {trial.id}")
        return trial.id

    def write_rendered(self, rendered):
        pass


def test_an_exporter_failing_in_a_worker_stops_the_run_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "START_METHOD", "fork")  # the workers inherit the exporter registered here
    monkeypatch.setitem(plugins.exporters(), "exploding", Exploding)
    with pytest.raises(parallel.WorkerFailed, match="RuntimeError: cannot render NCT00973089"):
        pipeline.convert([CTGOV / "aact-fixtures" / "v2-json"], tmp_path, ["json", "exploding"], jobs=2)
    assert list(tmp_path.rglob("*")) == []  # nothing published
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("batch_bytes", [1, 7, 64, 4096])
def test_json_lines_batches_cover_the_file_in_whole_lines_numbered_from_one(tmp_path, monkeypatch, batch_bytes):
    monkeypatch.setattr(ctgov_json, "BATCH_BYTES", batch_bytes)
    studies = [json.dumps(s) for s in v2_studies()[:6]]
    text = (studies[0] + "\n" + studies[1] + "\n\n" + "\n".join(studies[2:])).encode()  # blank line 3, no final \n
    path = tmp_path / "studies.jsonl"
    path.write_bytes(text)
    batches = list(ctgov_json.CtgovJsonReader().batches(path))
    assert [b.start for b in batches] == [0, *(b.start + b.size for b in batches[:-1])]
    assert batches[-1].start + batches[-1].size == len(text)
    lines = text.split(b"\n")
    for batch in batches:
        chunk = text[batch.start : batch.start + batch.size]
        assert batch.start == 0 or text[batch.start - 1 : batch.start] == b"\n"  # whole lines only
        assert text.count(b"\n", 0, batch.start) + 1 == batch.first  # the line it starts on
        assert chunk.split(b"\n")[0] == lines[batch.first - 1]
