"""Conversion as a pure function of one record, for engines that distribute the work (Dask, Spark).

``convert_record`` takes one ClinicalTrials.gov API v2 study (a JSON Lines line or its parsed dict) and
returns one output: no files, no state, the same answer wherever it runs. ``convert`` streams whole
inputs on one machine; this is the unit a cluster maps over partitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from trialport.fhir.build import research_study_r4b, research_study_r5
from trialport.model import Trial
from trialport.readers.ctgov_json import study

OUTPUTS = ("canonical", "R5", "R4B", "R4")


class RecordError(ValueError):
    """The record cannot be converted; the message names the record and the reason."""


def to_trial(record: bytes | str | dict[str, Any], source: str = "-") -> Trial:
    """One API v2 study as a canonical Trial (``source`` names where it came from, for messages)."""
    try:
        document = record if isinstance(record, dict) else orjson.loads(record)
    except orjson.JSONDecodeError as error:
        raise RecordError(f"{source}: invalid JSON: {error}") from None
    if not isinstance(document, dict) or "protocolSection" not in document:
        raise RecordError(f"{source}: not a ClinicalTrials.gov API v2 study (no protocolSection)")
    raw = record.encode() if isinstance(record, str) else record if isinstance(record, bytes) else None
    result = study(document, source, None, "ctgov-v2", raw=raw.rstrip(b"\r\n") if raw else None)
    if not isinstance(result, Trial):
        raise RecordError(f"{source} [{result.record}]: {result.reason}")
    return result


def convert_record(record: bytes | str | dict[str, Any], to: str = "R5", source: str = "-") -> dict[str, Any]:
    """One API v2 study as canonical JSON (``to="canonical"``) or a FHIR ResearchStudy (``"R5"``, ``"R4B"``,
    ``"R4"``: R4 and R4B are the same shape). The study alone: the Locations, people and eligibility Group
    it refers to are ``fhir.build.resources``."""
    if to not in OUTPUTS:
        raise ValueError(f"unknown output {to!r}; choose one of {', '.join(OUTPUTS)}")
    trial = to_trial(record, source)
    if to == "canonical":
        return trial.model_dump(mode="json")
    return research_study_r5(trial) if to == "R5" else research_study_r4b(trial)


def convert_partition(lines: Iterable[bytes | str], to: str = "R5") -> list[dict[str, str]]:
    """Every line of a JSON Lines partition, in order: ``{"output": JSON text}`` or ``{"rejected": reason}``
    (blank lines passed over). This is what Dask's ``map_partitions`` or Spark's ``mapPartitions`` call."""
    results = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            output = convert_record(line.strip(), to, source=f"partition line {number}")
        except RecordError as error:
            results.append({"rejected": str(error)})
        else:
            results.append({"output": orjson.dumps(output).decode()})
    return results
