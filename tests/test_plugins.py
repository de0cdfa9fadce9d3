"""A third-party exporter, installed as its own package, is found through the entry point and used."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, SEEDS


@pytest.mark.slow
def test_example_markdown_plugin_installs_and_converts(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(ROOT / "examples" / "markdown-exporter"),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    formats = subprocess.run([sys.executable, "-m", "trialport", "formats"], env=env, capture_output=True, text=True)
    assert "markdown" in formats.stdout
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "trialport", "convert", str(SEEDS), "--to", "markdown,json", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = (out / "endpoints.md").read_text(encoding="utf-8").splitlines()
    # header + separator + 2 + 4 + 11 + 8 endpoints of the four trial seeds
    assert len(rows) == 2 + 2 + 4 + 11 + 8
    assert "| primary | DLT | Up to 2 years |" in "\n".join(rows)
    assert (out / "trials.jsonl").exists()
