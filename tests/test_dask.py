"""``convert_record`` is the unit of distributed work: the Dask example, run on a local cluster of
processes, writes exactly what ``trialport convert`` writes on one machine, and reports the bad lines."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import ROOT, v2_studies

import trialport
from trialport import pipeline


def test_convert_record_equals_the_streaming_pipeline(tmp_path):
    source = tmp_path / "studies.jsonl"
    lines = [json.dumps(s) for s in v2_studies()]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipeline.convert([source], tmp_path / "out", ["fhir", "json"])
    research_studies = (tmp_path / "out" / "fhir" / "R5" / "ResearchStudy.ndjson").read_text().splitlines()
    assert [json.loads(r) for r in research_studies] == [trialport.convert_record(line) for line in lines]
    canonical = [json.loads(r) for r in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
    mine = [trialport.convert_record(line, "canonical", source=str(source)) for line in lines]
    strip = lambda t: {**t, "source": {**t["source"], "record": None}}  # noqa: E731  (line numbers differ)
    assert [strip(t) for t in mine] == [strip(t) for t in canonical]


def test_a_bad_record_raises_one_line_naming_it():
    with pytest.raises(trialport.RecordError, match=r"^dump.jsonl line 7: invalid JSON"):
        trialport.convert_record(b"{oops", source="dump.jsonl line 7")
    with pytest.raises(trialport.RecordError, match="no protocolSection"):
        trialport.convert_record({"studies": []})
    with pytest.raises(ValueError, match="unknown output 'R3'"):
        trialport.convert_record({"protocolSection": {}}, "R3")


@pytest.mark.slow
def test_dask_example_on_a_local_process_cluster_matches_convert(tmp_path):
    from dask.distributed import Client, LocalCluster

    spec = importlib.util.spec_from_file_location("dask_convert", ROOT / "examples" / "dask_convert.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    studies = v2_studies()
    lines = [json.dumps(s) for s in studies]
    lines.insert(5, "{not json")
    source = tmp_path / "studies.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipeline.convert([source], tmp_path / "single", ["fhir"])
    expected = (tmp_path / "single" / "fhir" / "R5" / "ResearchStudy.ndjson").read_text().splitlines()

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        example.convert_on_dask(source, tmp_path / "dask", blocksize="256KiB")
    parts = sorted((tmp_path / "dask").glob("part-*.ndjson"))
    assert len(parts) > 3  # several partitions, so the order across them is really tested
    got = [line for part in parts for line in part.read_text().splitlines() if line]
    assert len(got) == len(studies) and got == expected
    rejects = sorted((tmp_path / "dask").glob("rejected-*.txt"))
    rejected = [line for path in rejects for line in path.read_text().splitlines() if line]
    assert len(rejected) == 1 and "invalid JSON" in rejected[0]
