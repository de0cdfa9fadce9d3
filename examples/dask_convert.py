"""Convert a ClinicalTrials.gov JSON Lines dump on a Dask cluster: one task per partition of the file.

    python examples/dask_convert.py studies.jsonl out/ [--scheduler tcp://host:8786] [--to R5|R4B|canonical]

Writes ``out/part-*.ndjson`` (in input order: their lines, concatenated, equal ``trialport convert``'s
ResearchStudy.ndjson; a partition with nothing to write leaves a blank line) and ``out/rejected-*.txt``
(one reason a line). Without --scheduler it starts a
local cluster of processes, one per core.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dask
import dask.bag as db

from trialport.record import convert_partition


def _name(partition: int) -> str:
    return f"{partition:05d}"  # sorted names keep the input order


def convert_on_dask(source: Path, out: Path, to: str = "R5", blocksize: str = "64MiB") -> None:
    """Build and run the graph on the current Dask client: read, convert partition by partition, write."""
    results = db.read_text(str(source), blocksize=blocksize).map_partitions(convert_partition, to)
    outputs = results.filter(lambda r: "output" in r).pluck("output")
    rejected = results.filter(lambda r: "rejected" in r).pluck("rejected")
    out.mkdir(parents=True, exist_ok=True)
    dask.compute(  # one pass over the input feeds both
        outputs.to_textfiles(str(out / "part-*.ndjson"), name_function=_name, compute=False, last_endline=True),
        rejected.to_textfiles(str(out / "rejected-*.txt"), name_function=_name, compute=False, last_endline=True),
    )


def main() -> None:
    from dask.distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    parser.add_argument("--to", default="R5", choices=["R5", "R4B", "canonical"])
    args = parser.parse_args()
    if args.scheduler:
        with Client(args.scheduler):
            convert_on_dask(args.source, args.out, args.to)
    else:
        with LocalCluster(processes=True, threads_per_worker=1) as cluster, Client(cluster):
            convert_on_dask(args.source, args.out, args.to)


if __name__ == "__main__":
    main()
