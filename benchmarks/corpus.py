"""Build N-record benchmark inputs by cycling the real records in tests/data/ctgov (ids made unique).

python benchmarks/corpus.py jsonl 100000 /tmp/corpus.jsonl
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CTGOV = ROOT / "tests" / "data" / "ctgov"
sys.path.insert(0, str(ROOT / "tests"))


def v2_studies() -> list[dict]:
    studies = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))
    studies += [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((CTGOV / "aact-fixtures" / "v2-json").glob("*.json"))
    ]
    return studies


def unique_id(i: int) -> str:
    return f"NCT{90000000 + i:08d}"


def cycled_studies(n: int) -> Iterator[dict]:
    for i, study in zip(range(n), itertools.cycle(v2_studies()), strict=False):
        study = json.loads(json.dumps(study))
        study["protocolSection"]["identificationModule"]["nctId"] = unique_id(i)
        yield study


def write_jsonl(n: int, out: Path) -> None:
    with open(out, "w", encoding="utf-8") as handle:
        for study in cycled_studies(n):
            handle.write(json.dumps(study, ensure_ascii=False) + "\n")


def write_csv(n: int, out: Path) -> None:
    with open(CTGOV / "mrd-aml-csv" / "ctg-studies.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, row in zip(range(n), itertools.cycle(body), strict=False):
            writer.writerow([unique_id(i), *row[1:]])


def write_seed_layout(n: int, out: Path) -> None:
    from seed_layout import render  # the tests' renderer: API v2 study → seed text layout

    out.mkdir(parents=True, exist_ok=True)
    for i, study in enumerate(cycled_studies(n)):
        (out / f"{i:07d}.txt").write_bytes(render(study))


def write_xml(n: int, out: Path) -> None:
    sources = sorted((CTGOV / "aact-fixtures" / "legacy-xml").glob("NCT*.xml"))
    out.mkdir(parents=True, exist_ok=True)
    for i, path in zip(range(n), itertools.cycle(sources), strict=False):
        text = path.read_text(encoding="utf-8")
        start, end = text.index("<nct_id>") + 8, text.index("</nct_id>")
        (out / f"{i:07d}.xml").write_text(text[:start] + unique_id(i) + text[end:], encoding="utf-8")


BUILDERS = {"jsonl": write_jsonl, "csv": write_csv, "seed": write_seed_layout, "xml": write_xml}

if __name__ == "__main__":
    kind, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    BUILDERS[kind](n, out)
