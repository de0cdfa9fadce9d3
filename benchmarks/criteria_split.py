"""The eligibility criteria split as a share of the JSON Lines -> FHIR R5 pipeline, compiled against pure Python.

    .venv/bin/python benchmarks/criteria_split.py [--size 10000] [--rounds 3]

Each round runs both, one after the other, each in a fresh process (TRIALPORT_PURE_PYTHON=1 for Python) on the
same cycled API v2 records: the split calls timed alone (as `run.py`'s criteria case times them), then the
pipeline with --jobs 1 (as `run.py`'s R5 NDJSON case runs it). "Slower than without": split / (pipeline - split).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

MEASURE = """
import json, sys, tempfile, time
import orjson
from trialport import pipeline
from trialport.mapping import criteria
from trialport.mapping.text import clean_block

source = sys.argv[1]
split_seconds = 0.0
with open(source, "rb") as lines:
    for line in lines:
        module = orjson.loads(line)["protocolSection"].get("eligibilityModule") or {}
        block = clean_block(module.get("eligibilityCriteria"), indented=True)
        start = time.perf_counter()
        if block:
            criteria.split(block)
        split_seconds += time.perf_counter() - start
start = time.perf_counter()
pipeline.convert([source], tempfile.mkdtemp(), ["fhir"], options={"fhir_outputs": ["ndjson"]}, jobs=1)
print(json.dumps([criteria.COMPILED, split_seconds, time.perf_counter() - start]))
"""


def measure(source: Path, pure: bool) -> tuple[bool, float, float]:
    env = {**os.environ, "TRIALPORT_PURE_PYTHON": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(source)], env=env, capture_output=True, text=True, check=True
    )
    compiled, split_seconds, pipeline_seconds = json.loads(done.stdout.splitlines()[-1])
    return compiled, split_seconds, pipeline_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "studies.jsonl"
        corpus.write_jsonl(args.size, source)
        print("| round | split | criteria split s | pipeline s | split's share | pipeline slower than without |")
        print("|---:|---|---:|---:|---:|---:|")
        for round_number in range(1, args.rounds + 1):
            for pure in (True, False):
                compiled, split, whole = measure(source, pure)
                name = "compiled (Cython)" if compiled else "Python"
                share, slower = split / whole, split / (whole - split)
                row = f"| {round_number} | {name} | {split:.2f} | {whole:.2f} | {share:.1%} | {slower:.1%} |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
