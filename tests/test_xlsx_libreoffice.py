"""The workbook opens in LibreOffice (headless) and every sheet comes out with the values written."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess

import pytest
from conftest import CTGOV, SEEDS, tool_missing
from python_calamine import CalamineWorkbook

from trialport import pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "libreoffice-calc"],
            env=env,
            capture_output=True,
        )
        found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        tool_missing("LibreOffice (Debian package libreoffice-calc) is not installed and could not be installed here")
    return found


def _shown(value: object) -> str:
    """A value as LibreOffice writes it to CSV (full precision, a whole number without ".0")."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def test_libreoffice_opens_every_sheet_with_the_values_written(soffice, tmp_path):
    # the seeds, and registry records with sites (geo points, zip codes with leading zeros), people, references,
    # eligibility criteria
    pipeline.convert([SEEDS, CTGOV / "aact-fixtures" / "v2-json"], tmp_path, ["xlsx"])
    workbook = tmp_path / "endpoints.xlsx"
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    # every sheet to its own CSV (UTF-8, comma, quoted): LibreOffice names them endpoints-<Sheet>.csv
    run = subprocess.run(
        [
            soffice,
            profile,
            "--headless",
            "--norestore",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path / "csv"),
            str(workbook),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    written = CalamineWorkbook.from_path(str(workbook))
    assert written.sheet_names[2:6] == ["Sites", "People", "References", "Eligibility"]
    for sheet in written.sheet_names:
        with open(tmp_path / "csv" / f"endpoints-{sheet}.csv", encoding="utf-8", newline="") as handle:
            opened = list(csv.reader(handle))
        expected = written.get_sheet_by_name(sheet).to_python()
        assert len(opened) == len(expected), sheet
        for row_opened, row_written in zip(opened, expected, strict=True):
            for a, b in zip(row_opened, row_written, strict=False):
                assert a == _shown(b), (sheet, a, b)
    sites = written.get_sheet_by_name("Sites").to_python()
    assert len(sites) > 100 and any(isinstance(r[12], float) for r in sites[1:])  # sites with geo points came through
    criteria = written.get_sheet_by_name("Eligibility").to_python()
    assert any("\n- " in r[4] for r in criteria[1:])  # criteria with sub-items on lines of their own came through
    pdf = subprocess.run(
        [
            soffice,
            profile,
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(workbook),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert pdf.returncode == 0 and (tmp_path / "endpoints.pdf").stat().st_size > 10_000
