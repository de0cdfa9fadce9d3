"""A TS dataset on disk: ts.xpt (SAS XPORT v5, written by pyreadstat) and ts.csv (UTF-8, the same rows)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from trialport.cdisc.dataset import Dataset


def check_names(data: Dataset) -> None:
    """XPORT v5's own limits, which pyreadstat leaves to the caller: names of 8, labels of 40 characters."""
    for name in data.columns:
        if len(name) > 8 or len(data.labels[name]) > 40:
            raise ValueError(f"XPT variable {name!r} or its label is too long for SAS XPORT v5")


def write_xpt(data: Dataset, path: Path) -> Path:
    import pandas
    import pyreadstat

    check_names(data)
    frame = pandas.DataFrame(data.rows, columns=data.columns)
    tmp = path.with_name(f".{path.name}.tmp")  # the file appears whole or not at all
    try:
        pyreadstat.write_xport(
            frame,
            str(tmp),
            file_label="Trial Summary",
            column_labels=[data.labels[c] for c in data.columns],
            table_name="TS",
            file_format_version=5,
        )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def csv_bytes(data: Dataset) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, data.columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data.rows)
    return buffer.getvalue().encode("utf-8")
