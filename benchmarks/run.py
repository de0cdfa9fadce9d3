"""Benchmarks: records per second and peak memory, each beside references measured in the same run.

    .venv/bin/python benchmarks/run.py [--sizes 10000,100000] [--only TEXT] [--out benchmarks/results.md]

``--only TEXT`` runs the cases whose name contains TEXT, with the references (and the mCODE converter when
a FHIR pipeline is among them).

Every case runs alone in its own process, so its peak RSS is its own; imports are untimed. References,
measured on the same input in the same run:
- the limit: only parsing the input (orjson.loads per line, the csv module, reading the files) and
  writing bytes back out; no converter can beat it;
- the baseline: the same JSON Lines -> FHIR R5 pipeline with every resource built and serialised by
  fhir.resources (the obvious way to write FHIR in Python);
- the named baseline hospitals use today for trial matching: the mCODE project's converter
  (npm clinical-trial-matching-service 0.1.2, ``createResearchStudyFromClinicalStudy``: one API v2 study
  -> one FHIR R4 ResearchStudy, its Locations, Group and PlanDefinitions contained), run by Node on the
  same JSON Lines (benchmarks/mcode/convert.js; ``npm ci`` there when its packages are missing).
Exporter cases stream trials from the reader and time only the exporter's own calls, so their peak
memory is what a streaming run needs. Results go to benchmarks/results.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

from trialport.mapping import criteria  # noqa: E402

MCODE = HERE / "mcode"
SMALL = 10_000  # cases too slow (or not streaming-relevant) to repeat at every size run only up to this


@dataclass(frozen=True)
class Case:
    """One measurement: input kind, untimed setup, timed code that sets N (records handled); cases
    whose timed part is spread over calls set T (seconds) themselves."""

    name: str
    kind: str
    setup: str
    code: str
    max_size: int = 10**9
    role: str = "case"  # "limit", "baseline", "mcode" (benchmarks/mcode/convert.js, run by Node) or "case"
    versus_mcode: bool = False  # set beside the mCODE converter's time in the results


PIPELINE = "import tempfile\nfrom trialport import pipeline, plugins\nplugins.readers(); plugins.exporters()  # imports"
EXPORT_STREAMING = """
exporter = EXPORTER(Path(tempfile.mkdtemp()), OPTIONS)
T = 0.0
N = 0
for trial in pipeline.trials([INPUT]):
    t = time.perf_counter(); exporter.write(trial); T += time.perf_counter() - t
    N += 1
t = time.perf_counter(); exporter.close(); T += time.perf_counter() - t
"""


def exporter_setup(module: str, cls: str, options: str = "{}") -> str:
    return (
        "import tempfile, time\nfrom pathlib import Path\nfrom trialport import pipeline\n"
        f"from trialport.exporters.{module} import {cls} as EXPORTER\nOPTIONS = {options}"
    )


def pipeline_case(name: str, options: str, jobs: int, max_size: int = 10**9, versus_mcode: bool = False) -> Case:
    code = (
        f"r = pipeline.convert([INPUT], tempfile.mkdtemp(), ['fhir'], options={options}, jobs={jobs})\n"
        "N = r.totals()['converted']"
    )
    return Case(name, "jsonl", PIPELINE, code, max_size, versus_mcode=versus_mcode)


Measures = dict[tuple[str, int], float]  # (case name, size) -> records/s, or peak RSS MB
MCODE_NAME = "named baseline: mCODE clinical-trial-matching-service 0.1.2 (Node): JSON Lines -> FHIR R4 NDJSON"


CASES = [
    Case(
        "limit: orjson.loads per line, line written back",
        "jsonl",
        "import orjson, tempfile",
        "N = 0\nwith open(INPUT, 'rb') as f, tempfile.TemporaryFile() as out:\n"
        "    for line in f:\n        orjson.loads(line); out.write(line); N += 1",
        role="limit",
    ),
    Case(
        "baseline: JSON Lines -> FHIR R5 NDJSON, each resource built and serialised by fhir.resources",
        "jsonl",
        "from pathlib import Path\nimport tempfile\nfrom trialport import pipeline\n"
        "from trialport.fhir.build import resources\nfrom fhir.resources import get_fhir_model_class",
        "out = open(Path(tempfile.mkdtemp()) / 'ResearchStudy.ndjson', 'w')\nN = 0\n"
        "for trial in pipeline.trials([INPUT]):\n"
        "    for r in resources(trial, 'R5'):\n"
        "        out.write(get_fhir_model_class(r['resourceType']).model_validate(r).model_dump_json() + '\\n')\n"
        "    N += 1",
        SMALL,
        role="baseline",
    ),
    Case(
        "mapping: eligibility criteria split into items (split calls timed; a share of the FHIR pipeline's time)",
        "jsonl",
        "import orjson, time\nfrom trialport.mapping.criteria import split\n"
        "from trialport.mapping.text import clean_block",
        "T = 0.0\nN = 0\nwith open(INPUT, 'rb') as f:\n"
        "    for line in f:\n"
        "        module = orjson.loads(line)['protocolSection'].get('eligibilityModule') or {}\n"
        "        block = clean_block(module.get('eligibilityCriteria'), indented=True)\n"
        "        t = time.perf_counter()\n"
        "        if block:\n            split(block)\n"
        "        T += time.perf_counter() - t\n        N += 1",
    ),
    Case(
        "reader ctgov-json (JSON Lines)",
        "jsonl",
        "from pathlib import Path\nfrom trialport.readers.ctgov_json import CtgovJsonReader",
        "N = sum(1 for _ in CtgovJsonReader().read(Path(INPUT)))",
    ),
    Case(MCODE_NAME, "jsonl", "", "", role="mcode"),
    pipeline_case(
        "pipeline: JSON Lines -> canonical -> FHIR R5 NDJSON, --jobs 1",
        "{'fhir_outputs': ['ndjson']}",
        1,
        versus_mcode=True,
    ),
    pipeline_case("pipeline: same, --jobs 2", "{'fhir_outputs': ['ndjson']}", 2, versus_mcode=True),
    pipeline_case("pipeline: same, every FHIR output (per-study files, bundle, NDJSON), --jobs 1", "{}", 1, SMALL),
    pipeline_case("pipeline: same, every FHIR output, --jobs 2", "{}", 2, SMALL),
    pipeline_case("pipeline: NDJSON, --validate (fhir.resources checks each resource)", "{'validate': True}", 1, SMALL),
    Case(
        "exporter xlsx: endpoint rows with styles (2,000 trials cycled to SIZE rows)",
        "jsonl",
        "import itertools, tempfile, time\nfrom pathlib import Path\nfrom trialport import pipeline\n"
        "from trialport.exporters.xlsx import XlsxExporter\n"
        "trials = list(itertools.islice(pipeline.trials([INPUT]), 2000))",
        "exporter = XlsxExporter(Path(tempfile.mkdtemp()))\nN = 0\n"
        "for trial in itertools.cycle(trials):\n"
        "    exporter.write(trial)\n    N += len(trial.outcomes)\n"
        "    if N >= SIZE:\n        break\nexporter.close()",
    ),
    Case(
        "exporter cdisc: ts.xpt + ts.csv + define.xml per study (exporter calls timed)",
        "jsonl",
        exporter_setup("cdisc", "CdiscExporter"),
        EXPORT_STREAMING,
        SMALL,
    ),
    Case(
        "pipeline: JSON Lines -> canonical -> cdisc (read, render, write), --jobs 1",
        "jsonl",
        PIPELINE,
        "N = pipeline.convert([INPUT], tempfile.mkdtemp(), ['cdisc'], jobs=1).totals()['converted']",
        SMALL,
    ),
    Case(
        "pipeline: same to cdisc, --jobs 2",
        "jsonl",
        PIPELINE,
        "N = pipeline.convert([INPUT], tempfile.mkdtemp(), ['cdisc'], jobs=2).totals()['converted']",
        SMALL,
    ),
    Case(
        "exporter json: canonical JSON Lines (exporter calls timed)",
        "jsonl",
        exporter_setup("jsonl", "JsonLinesExporter"),
        EXPORT_STREAMING,
        SMALL,
    ),
    Case(
        "limit: csv module",
        "csv",
        "import csv",
        "with open(INPUT, encoding='utf-8', newline='') as f:\n    N = sum(1 for _ in csv.reader(f)) - 1",
        role="limit",
    ),
    Case(
        "reader ctgov-csv",
        "csv",
        "from pathlib import Path\nfrom trialport.readers.ctgov_csv import CtgovCsvReader",
        "N = sum(1 for _ in CtgovCsvReader().read(Path(INPUT)))",
    ),
    Case(
        "limit: read seed files",
        "seed",
        "from pathlib import Path",
        "N = sum(1 for p in sorted(Path(INPUT).iterdir()) if p.read_bytes())",
        SMALL,
        role="limit",
    ),
    Case(
        "reader seedtext",
        "seed",
        "from pathlib import Path\nfrom trialport.readers.seedtext import SeedTextReader",
        "reader = SeedTextReader()\nN = sum(1 for p in sorted(Path(INPUT).iterdir()) for _ in reader.read(p))",
        SMALL,
    ),
    Case(
        "limit: parse XML files",
        "xml",
        "from pathlib import Path\nimport defusedxml.ElementTree as ET",
        "N = sum(1 for p in sorted(Path(INPUT).iterdir()) if ET.fromstring(p.read_bytes()) is not None)",
        SMALL,
        role="limit",
    ),
    Case(
        "reader ctgov-xml",
        "xml",
        "from pathlib import Path\nfrom trialport.readers.ctgov_xml import CtgovXmlReader",
        "reader = CtgovXmlReader()\nN = sum(1 for p in sorted(Path(INPUT).iterdir()) for _ in reader.read(p))",
        SMALL,
    ),
]

CHILD = """
import resource, sys, time
INPUT, SIZE = sys.argv[1], int(sys.argv[4])
exec(sys.argv[2])
T = None
start = time.perf_counter()
exec(sys.argv[3])
elapsed = time.perf_counter() - start if T is None else T
usage = resource.getrusage
print(N, elapsed, usage(resource.RUSAGE_SELF).ru_maxrss, usage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_case(case: Case, path: Path, size: int) -> tuple[int, float, float]:
    """Records, seconds and peak RSS in MB (the largest of the process and its workers). The case's
    outputs go to a temporary folder of its own, removed as soon as it ends (they reach gigabytes)."""
    if case.role == "mcode":
        return run_mcode(path)
    command = [sys.executable, "-c", CHILD, str(path), case.setup, case.code, str(size)]
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "TMPDIR": scratch}  # where the case's tempfile.mkdtemp() outputs land
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    n, elapsed, rss_kb, children_kb = out.stdout.split()
    return int(n), float(elapsed), max(int(rss_kb), int(children_kb)) / 1024


def mcode_missing() -> str | None:
    """Why the mCODE converter cannot run here, or None once its npm packages are installed (``npm ci``
    from benchmarks/mcode/package-lock.json the first time; its sqlite3 dependency may compile for minutes)."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "Node.js and npm are needed for the mCODE converter"
    if not (MCODE / "node_modules" / "clinical-trial-matching-service").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCODE, check=True)
    return None


def run_mcode(path: Path) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        command = ["node", str(MCODE / "convert.js"), str(path), str(Path(scratch) / "ResearchStudy.ndjson")]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    return result["records"], result["seconds"], result["peak_rss_mb"]


def selected(only: str) -> list[Case]:
    """``--only``: the cases it names, the references on their kind of input, and the mCODE converter
    beside a FHIR pipeline."""
    if not only:
        return CASES
    wanted = only.split("|")
    named = [case for case in CASES if case.role in ("case", "mcode") and any(w in case.name for w in wanted)]
    kinds = {case.kind for case in named}
    beside_mcode = any(case.versus_mcode for case in named)
    return [
        case
        for case in CASES
        if case in named
        or (case.role in ("limit", "baseline") and case.kind in kinds)
        or (case.role == "mcode" and beside_mcode)
    ]


def input_for(kind: str, size: int, tmp: Path) -> Path:
    path = tmp / (f"{kind}-{size}" if kind in ("seed", "xml") else f"{kind}-{size}.{kind}")
    if not path.exists():
        corpus.BUILDERS[kind](size, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument(
        "--only", default="", help="run only cases whose name contains this text, or one of A|B (and references)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    header = [
        "# Benchmark results",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `python benchmarks/run.py --sizes {args.sizes}`; the criteria",
        f"splitter {'compiled with Cython' if criteria.COMPILED else 'as pure Python (not compiled at install)'}.",
        "Each case runs alone in its own process (imports untimed). `vs limit`: the case's time over the",
        "limit's time (parse only, bytes written back) on the same input; `x baseline`: how",
        "many times faster a pipeline is than the fhir.resources baseline measured in the same run (at sizes above",
        f"{SMALL:,} the baseline's {SMALL:,}-record rate is used). Slow cases run up to {SMALL:,} records.",
        "The named baseline is the mCODE converter hospitals use for trial matching; the last table sets",
        "trialport beside it.",
        "",
        "| case | records | seconds | records/s | peak RSS MB | vs limit | x baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows: list[str] = []
    rss: Measures = {}
    baseline_rate = float("nan")
    rate_of: Measures = {}
    cases = selected(args.only)
    if any(case.role == "mcode" for case in cases) and (reason := mcode_missing()):
        print(f"skipping the mCODE converter: {reason}", flush=True)
        cases = [case for case in cases if case.role != "mcode"]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            limit_rate: dict[str, float] = {}
            for case in cases:
                if size > case.max_size:
                    continue
                n, seconds, peak = run_case(case, input_for(case.kind, size, Path(tmp)), size)
                rate = n / seconds
                if case.role == "limit":
                    limit_rate[case.kind] = rate
                if case.role == "baseline":
                    baseline_rate = rate
                vs_limit = limit_rate[case.kind] / rate if case.kind in limit_rate else float("nan")
                fhir_pipeline = case.name.startswith("pipeline") and "cdisc" not in case.name
                speedup = rate / baseline_rate if fhir_pipeline else float("nan")
                name = case.name.replace("SIZE", f"{size:,}")
                row = f"| {name} | {n:,} | {seconds:.2f} | {rate:,.0f} | {peak:.0f} | {vs_limit:.1f}x | {speedup:.1f} |"
                print(row, flush=True)
                rows.append(row.replace("| nanx |", "| |").replace("| nan |", "| |"))
                rss[(case.name, size)] = peak
                rate_of[(case.name, size)] = rate
    growth = [
        f"| {name} | {rss[(name, sizes[0])]:.0f} | {rss[(name, sizes[-1])]:.0f} | "
        f"{rss[(name, sizes[-1])] / rss[(name, sizes[0])]:.2f} |"
        for name in dict.fromkeys(name for name, _ in rss)
        if len(sizes) > 1 and (name, sizes[-1]) in rss and (name, sizes[0]) in rss
    ]
    memory = [
        "",
        f"Peak memory, {sizes[0]:,} against {sizes[-1]:,} records (streaming: the ratio stays near 1):",
        "",
        f"| case | MB at {sizes[0]:,} | MB at {sizes[-1]:,} | ratio |",
        "|---|---:|---:|---:|",
        *growth,
    ]
    Path(args.out).write_text(
        "\n".join(header + rows + (memory if growth else []) + versus_mcode(sizes, rate_of, rss)) + "\n",
        encoding="utf-8",
    )
    print(f"written to {args.out}")


def versus_mcode(sizes: list[int], rate: Measures, rss: Measures) -> list[str]:
    """Each FHIR NDJSON pipeline beside the mCODE converter on the same input in the same run: the time
    ratio (the same records, so the inverse ratio of the rates; below 1: trialport is faster)."""
    rows = []
    for size in sizes:
        if (MCODE_NAME, size) not in rate:
            continue
        mcode = rate[(MCODE_NAME, size)]
        for case in CASES:
            if case.versus_mcode and (case.name, size) in rate:
                ours = rate[(case.name, size)]
                rows.append(
                    f"| {case.name} | {size:,} | {mcode:,.0f} | {rss[(MCODE_NAME, size)]:.0f} | "
                    f"{ours:,.0f} | {rss[(case.name, size)]:.0f} | {mcode / ours:.2f} |"
                )
    if not rows:
        return []
    return [
        "",
        "Against the mCODE converter, on the same input in the same run. trialport writes FHIR R5: each study",
        "with its outcomes and codes, and in files of their own its eligibility Group, its PlanDefinitions and",
        "the resources studies share (Organizations, Locations, Practitioners, PractitionerRoles); mCODE writes",
        "one R4 ResearchStudy",
        "a study, its sites, eligibility Group and interventions contained. What each carries:",
        "benchmarks/mcode-coverage.md.",
        "",
        "| trialport case | records | mCODE records/s | mCODE peak RSS MB | trialport records/s | "
        "trialport peak RSS MB | trialport time / mCODE time |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"{time.perf_counter() - start:.0f} s in all")
