"""Benchmark of ``trialport sync``: a sync with nothing changed, beside the first (full) sync and a plain
convert + push of the same trials, all measured in one run.

    .venv/bin/python benchmarks/sync.py [--size 10000] [--out benchmarks/sync-results.md]

N studies (the real records of tests/data/ctgov, cycled, NCT numbers made unique) are served by the tests'
stand-in ClinicalTrials.gov API (answering ``fields=NCTId`` as the API does) with its pacing off, so the
times are trialport's own; the FHIR server is a real sekmet-fhir on 127.0.0.1 (R4), as in the sync tests.
Measured: (1) the first sync (fetch, convert, push everything); (2) a second sync with nothing changed;
(3) the reference: ``push`` (which converts) of the same studies, fetched once, to a fresh server.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402  (puts tests/ on sys.path)
from ctgov_api_server import CtgovApiServer  # noqa: E402
from fhir_servers import TOKEN, sekmet  # noqa: E402

from trialport.ctgov_api import ApiClient  # noqa: E402
from trialport.fetch import Query, fetch  # noqa: E402
from trialport.fhirclient import Client, push  # noqa: E402
from trialport.sync import sync  # noqa: E402

VERSION = "R4"
PACING_OFF = 1_000_000  # API requests a minute: no waiting


def timed_sync(api: CtgovApiServer, base: str, state: Path):
    """One sync of every study the API serves; (report, seconds, API requests the server received)."""
    before = len(api.requests)
    client = ApiClient(api.url, per_minute=PACING_OFF)
    fhir = Client(base, token=TOKEN)
    started = time.perf_counter()
    try:
        report = sync(Query(), base, state, api_client=client, fhir_client=fhir, version=VERSION)
    finally:
        client.close()
        fhir.close()
    seconds = time.perf_counter() - started
    if report.exit_code:
        raise SystemExit(f"sync failed: {report.failed or report.rejected or report.notes}")
    return report, seconds, len(api.requests) - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--out", default=str(HERE / "sync-results.md"))
    args = parser.parse_args()
    size = args.size
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trialport-bench-sync-") as tmp:
        work = Path(tmp)
        (work / "sekmet").mkdir()
        (work / "fresh").mkdir()
        with CtgovApiServer(corpus.cycled_studies(size)) as api:
            with sekmet(work / "sekmet") as base:
                first, first_s, _ = timed_sync(api, base, work / "sync.sqlite")
                print(f"first sync: {len(first.pushed):,} trials pushed in {first_s:.1f} s", flush=True)
                again, again_s, again_api = timed_sync(api, base, work / "sync.sqlite")
                print(f"unchanged sync: {again.fetched:,} studies re-read, {again_s:.2f} s", flush=True)
            fetched = work / "studies.jsonl"
            client = ApiClient(api.url, per_minute=PACING_OFF)
            started = time.perf_counter()
            fetch(fetched, Query(), client=client)
            fetch_s = time.perf_counter() - started
            client.close()
        with sekmet(work / "fresh") as base:
            fhir = Client(base, token=TOKEN)
            started = time.perf_counter()
            pushed = push([fetched], base, VERSION, client=fhir)
            push_s = time.perf_counter() - started
            fhir.close()
        if pushed.exit_code:
            raise SystemExit(f"push failed: {pushed.counts()}")
        print(f"convert + push: {push_s:.1f} s (fetch {fetch_s:.1f} s)", flush=True)
    assert len(first.pushed) == size and not again.pushed and again.unchanged == again.fetched
    total = time.perf_counter() - began
    lines = results(size, first, first_s, again, again_s, again_api, fetch_s, push_s, total)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def results(size, first, first_s, again, again_s, again_api, fetch_s, push_s, total) -> list[str]:
    return [
        "# `trialport sync`: a run with nothing changed",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `python benchmarks/sync.py --size {size}` ({total:.0f} s in all).",
        "",
        "| size | first sync s | unchanged sync s | ratio % | API requests | FHIR requests |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {size:,} | {first_s:.1f} | {again_s:.2f} | {100 * again_s / first_s:.1f} | {again_api} "
        f"| {again.requests} |",
        "",
        f"- Input: {size:,} studies, the real records of tests/data/ctgov cycled with unique NCT numbers, served by "
        "the tests' stand-in ClinicalTrials.gov API on 127.0.0.1 with trialport's API pacing off "
        f"(`--per-minute` {PACING_OFF:,}): the times are trialport's, not the API's 50 requests a minute.",
        f"- FHIR server: sekmet-fhir on 127.0.0.1, {VERSION}, put mode, batches of 50 trials.",
        f"- First sync: fetch, convert and push of all {size:,} trials: {len(first.pushed):,} pushed, "
        f"{first.shared:,} shared resources, {first.requests:,} transactions, {first.api_requests:,} API requests.",
        f"- Unchanged sync: the ids of the query (`fields=NCTId`), the studies updated since the data timestamp "
        f"({again.fetched:,} re-read and compared: those last updated on the data timestamp's day), "
        f"{len(again.pushed)} pushed, {again.requests} FHIR requests; API and FHIR requests are those of this run.",
        f"- Reference, plain convert + push (`push` of the fetched JSON Lines, which converts) to a fresh server: "
        f"{push_s:.1f} s (the fetch before it: {fetch_s:.1f} s); the unchanged sync is "
        f"{100 * again_s / push_s:.1f} % of it.",
    ]


if __name__ == "__main__":
    main()
