"""Benchmarks: records per second and peak memory, each beside a reference measured in the same run.

    .venv/bin/python benchmarks/run.py [--sizes 1000,10000] [--out benchmarks/results.md]

Every case runs in its own process so its peak RSS is its own. References:
- the limit: only parsing the input (orjson.loads per line; the csv module; reading the files) and
  writing bytes; a reader cannot beat that.
Results go to benchmarks/results.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

# Each case: (input kind, setup code, timed code). The timed code runs in a fresh process over
# INPUT after the setup (imports) and must set N to the records it handled.
CASES: dict[str, tuple[str, str, str]] = {
    "limit: orjson.loads per line": (
        "jsonl",
        "import orjson",
        "N = 0\nwith open(INPUT, 'rb') as f:\n    for line in f:\n        orjson.loads(line); N += 1",
    ),
    "reader ctgov-json (JSON Lines)": (
        "jsonl",
        "from pathlib import Path\nfrom trialport.readers.ctgov_json import CtgovJsonReader",
        "N = sum(1 for _ in CtgovJsonReader().read(Path(INPUT)))",
    ),
    "pipeline: JSON Lines -> canonical -> FHIR R5 (plain dicts)": (
        "jsonl",
        "import tempfile\nfrom trialport import pipeline",
        "r = pipeline.convert([INPUT], tempfile.mkdtemp(), ['fhir'])\nN = r.totals()['converted']",
    ),
    "pipeline: same, --validate (fhir.resources checks each resource)": (
        "jsonl",
        "import tempfile\nfrom trialport import pipeline",
        "r = pipeline.convert([INPUT], tempfile.mkdtemp(), ['fhir'], options={'validate': True})\n"
        "N = r.totals()['converted']",
    ),
    "baseline: same, each resource built and serialised by fhir.resources": (
        "jsonl",
        "from pathlib import Path\nimport tempfile\nfrom trialport import pipeline\n"
        "from trialport.fhir.build import resources\nfrom fhir.resources import get_fhir_model_class",
        "out = open(Path(tempfile.mkdtemp()) / 'ResearchStudy.ndjson', 'w')\nN = 0\n"
        "for trial in pipeline.trials([INPUT]):\n"
        "    for r in resources(trial, 'R5'):\n"
        "        out.write(get_fhir_model_class(r['resourceType']).model_validate(r).model_dump_json() + '\\n')\n"
        "    N += 1",
    ),
    "exporter xlsx: endpoint rows with styles (2,000 trials cycled to 100,000 rows)": (
        "jsonl",
        "import itertools, tempfile\nfrom pathlib import Path\nfrom trialport import pipeline\n"
        "from trialport.exporters.xlsx import XlsxExporter\n"
        "trials = list(itertools.islice(pipeline.trials([INPUT]), 2000))",
        "exporter = XlsxExporter(Path(tempfile.mkdtemp()))\nN = 0\n"
        "for trial in itertools.cycle(trials):\n"
        "    exporter.write(trial)\n    N += len(trial.outcomes)\n"
        "    if N >= 100_000:\n        break\nexporter.close()",
    ),
    "exporter cdisc: ts.xpt + ts.csv + define.xml per study (trials read before timing)": (
        "jsonl",
        "import tempfile\nfrom pathlib import Path\nfrom trialport import pipeline\n"
        "from trialport.exporters.cdisc import CdiscExporter\n"
        "trials = list(pipeline.trials([INPUT]))",
        "exporter = CdiscExporter(Path(tempfile.mkdtemp()))\nfor trial in trials:\n    exporter.write(trial)\n"
        "exporter.close()\nN = len(trials)",
    ),
    "exporter json: canonical JSON Lines (trials read before timing)": (
        "jsonl",
        "import tempfile\nfrom pathlib import Path\nfrom trialport import pipeline\n"
        "from trialport.exporters.jsonl import JsonLinesExporter\n"
        "trials = list(pipeline.trials([INPUT]))",
        "exporter = JsonLinesExporter(Path(tempfile.mkdtemp()))\nfor trial in trials:\n    exporter.write(trial)\n"
        "exporter.close()\nN = len(trials)",
    ),
    "limit: csv module": (
        "csv",
        "import csv",
        "with open(INPUT, encoding='utf-8', newline='') as f:\n    N = sum(1 for _ in csv.reader(f)) - 1",
    ),
    "reader ctgov-csv": (
        "csv",
        "from pathlib import Path\nfrom trialport.readers.ctgov_csv import CtgovCsvReader",
        "N = sum(1 for _ in CtgovCsvReader().read(Path(INPUT)))",
    ),
    "limit: read seed files": (
        "seed",
        "from pathlib import Path",
        "N = sum(1 for p in sorted(Path(INPUT).iterdir()) if p.read_bytes())",
    ),
    "reader seedtext": (
        "seed",
        "from pathlib import Path\nfrom trialport.readers.seedtext import SeedTextReader",
        "reader = SeedTextReader()\nN = sum(1 for p in sorted(Path(INPUT).iterdir()) for _ in reader.read(p))",
    ),
    "limit: parse XML files": (
        "xml",
        "from pathlib import Path\nimport defusedxml.ElementTree as ET",
        "N = sum(1 for p in sorted(Path(INPUT).iterdir()) if ET.fromstring(p.read_bytes()) is not None)",
    ),
    "reader ctgov-xml": (
        "xml",
        "from pathlib import Path\nfrom trialport.readers.ctgov_xml import CtgovXmlReader",
        "reader = CtgovXmlReader()\nN = sum(1 for p in sorted(Path(INPUT).iterdir()) for _ in reader.read(p))",
    ),
}

CHILD = """
import resource, sys, time
INPUT = sys.argv[1]
exec(sys.argv[2])
start = time.perf_counter()
exec(sys.argv[3])
elapsed = time.perf_counter() - start
print(N, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_case(setup: str, code: str, path: Path) -> tuple[int, float, float]:
    command = [sys.executable, "-c", CHILD, str(path), setup, code]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    n, elapsed, rss_kb = out.stdout.split()
    return int(n), float(elapsed), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--only", default="", help="run only cases whose name contains this text")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        "# Benchmark results",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `python benchmarks/run.py --sizes {args.sizes}`.",
        "Each case runs alone in its own process (imports untimed); `vs limit` is the case's time over the",
        "limit's time on the same input. At 100,000 records only the streaming readers run (their speed and",
        "peak memory at scale); the pipelines and exporters are measured at 1,000 and 10,000.",
        "",
        "| case | records | seconds | records/s | peak RSS MB | vs limit |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            inputs: dict[str, Path] = {}
            limit_seconds: dict[str, float] = {}
            for name, (kind, setup, code) in CASES.items():
                if args.only and args.only not in name and not name.startswith("limit"):
                    continue
                if size > 10_000 and not name.startswith(
                    ("limit: orjson", "limit: csv", "reader ctgov-json", "reader ctgov-csv")
                ):
                    continue  # 100,000 records: the streaming readers' speed and memory; the rest at 10,000
                if kind not in inputs:
                    inputs[kind] = (
                        Path(tmp) / f"{kind}-{size}" if kind in ("seed", "xml") else Path(tmp) / f"{kind}-{size}.{kind}"
                    )
                    corpus.BUILDERS[kind](size, inputs[kind])
                n, seconds, rss = run_case(setup, code, inputs[kind])
                if name.startswith("limit"):
                    limit_seconds[kind] = seconds
                ratio = seconds / limit_seconds[kind] if kind in limit_seconds else float("nan")
                row = f"| {name} | {n:,} | {seconds:.2f} | {n / seconds:,.0f} | {rss:.0f} | {ratio:.1f}x |"
                print(row, flush=True)
                lines.append(row)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"{time.perf_counter() - start:.0f} s in all")
