"""An interrupted ``trialport convert`` (Ctrl-C, or killed outright) leaves the previous outputs exactly as
they were: real runs in a subprocess over a corpus big enough to be caught mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from trialport import atomic, pipeline

pytestmark = pytest.mark.slow

STAGED_STUDIES = 200  # interrupt once this many studies were written: well into the run, far from its end


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """3,000 real records (ids made unique); converting them takes seconds."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    subprocess.run([sys.executable, ROOT / "benchmarks" / "corpus.py", "jsonl", "3000", path], check=True)
    return path


@pytest.fixture
def previous(corpus, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """An output folder holding a complete earlier run of 300 of the same studies, retitled (so every file
    the new run would write for them differs), and a snapshot of its every file."""
    lines = corpus.read_bytes().splitlines()[:300]
    studies = [json.loads(line) for line in lines]
    for study in studies:
        module = study["protocolSection"]["identificationModule"]
        module["briefTitle"] = "Earlier run: " + module["briefTitle"]
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text("".join(json.dumps(s) + "\n" for s in studies), encoding="utf-8")
    out = tmp_path / "out"
    done = run_convert(earlier, out, jobs=1)
    assert done.returncode == 0, done.stderr
    return out, snapshot(out)


def run_convert(source: Path, out: Path, jobs: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(source, out, jobs), capture_output=True, text=True, timeout=300)


def command(source: Path, out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "trialport", "convert", str(source), "--out", str(out), "--jobs", str(jobs)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder: Path) -> list[str]:
    """Hidden leftovers: everything hidden but the manifest, which a finished run leaves on purpose."""
    found = (p.relative_to(folder) for p in folder.rglob("*"))
    return sorted(str(p) for p in found if any(part.startswith(".") for part in p.parts) and str(p) != atomic.MANIFEST)


def interrupt(source: Path, out: Path, jobs: int, send) -> subprocess.Popen[str]:
    """Start converting ``source`` into ``out``; once it has written ``STAGED_STUDIES`` studies, ``send``."""
    process = subprocess.Popen(
        command(source, out, jobs), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        staged = list(out.glob(".trialport-run.*/fhir/R5/*.json"))
        if len(staged) >= STAGED_STUDIES:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be interrupted: make the corpus bigger"
    send(process)
    process.wait(timeout=60)
    return process


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def assert_previous_intact(out: Path, before: dict[str, bytes]) -> None:
    after = snapshot(out)
    assert [name for name in before if after.get(name) != before[name]] == []
    new_outputs = [
        name for name in after if name not in before and not any(p.startswith(".") for p in Path(name).parts)
    ]
    assert new_outputs == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_leaves_previous_outputs_and_no_temporary_file(corpus, previous, jobs):
    out, before = previous
    workers: list[int] = []

    def ctrl_c(process: subprocess.Popen[str]) -> None:
        workers.extend(children(process.pid))
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group

    process = interrupt(corpus, out, jobs, ctrl_c)
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 130
    assert stderr.strip().splitlines() == [f"interrupted: nothing written, {out} left as it was"]
    assert "Traceback" not in stderr
    assert_previous_intact(out, before)
    assert hidden(out) == []  # no temporary file at all
    assert len(snapshot(out)) == len(before)
    if jobs > 1:
        assert workers, "a run with --jobs 2 had started its workers"
    assert [pid for pid in workers if not gone(pid)] == []  # workers stopped, none left running


def test_killed_run_leaves_previous_outputs_and_the_next_run_sweeps_its_leftovers(corpus, previous, tmp_path):
    out, before = previous
    process = interrupt(corpus, out, 1, lambda p: p.send_signal(signal.SIGKILL))
    assert process.returncode == -signal.SIGKILL
    assert_previous_intact(out, before)
    assert hidden(out)  # the killed run's staging folder
    # never mistaken for outputs: reading the folder passes the hidden leftovers over
    outputs = [name for name in before if name != atomic.MANIFEST]  # hidden, like the leftovers
    assert sorted(str(p.relative_to(out)) for p in pipeline.iter_files([out])) == sorted(outputs)
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"".join(corpus.read_bytes().splitlines(keepends=True)[:5]))
    assert run_convert(small, out, jobs=1).returncode == 0
    assert hidden(out) == []
    after = snapshot(out)
    assert (
        "fhir/R5/NCT90000000.json" in after and after["fhir/R5/NCT90000000.json"] != before["fhir/R5/NCT90000000.json"]
    )
    assert "fhir/R5/NCT90000100.json" in before and "fhir/R5/NCT90000100.json" not in after  # not written again: gone
