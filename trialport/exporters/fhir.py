"""FHIR ResearchStudy (R5, and R4B for R4-era servers) under ``out/fhir/<VERSION>/``.

Per version: one JSON file per ResearchStudy, ``bundle.json`` (a transaction Bundle that upserts every
resource by its stable id: ``PUT ResearchStudy/<id>``), and one NDJSON file per resource type for bulk
``$import``; ``fhir_outputs`` picks which of the three (a whole registry wants NDJSON, not 500,000 files).
Everything streams; only the ids of Organizations already written are remembered.

Building and serialising happen in ``render`` (in worker processes under ``--jobs``); the writing
process only appends bytes, in input order, and writes each Organization once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, uuid5

import orjson

from trialport.atomic import AtomicFile, put, staged
from trialport.exporters.base import Exporter, ExportSummary
from trialport.fhir.build import resources
from trialport.fhir.codes import VERSIONS
from trialport.model import Trial

OUTPUTS = ("study", "bundle", "ndjson")


class RenderedResource(NamedTuple):
    """One resource serialised for every output asked for (``None`` where not asked for)."""

    kind: str
    id: str
    line: bytes | None  # compact JSON and newline, for <Type>.ndjson
    pretty: bytes | None  # indented JSON, for <id>.json (ResearchStudy only)
    entry: bytes | None  # the transaction Bundle entry
    problems: tuple[str, ...]  # validation findings, when validating


def fhir_versions(options: Mapping[str, Any]) -> tuple[str, ...]:
    wanted = options.get("fhir_version", "R5")
    versions = VERSIONS if wanted == "all" else (wanted,)
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise ValueError(f"unknown FHIR version {', '.join(unknown)}; choose R5, R4B or all")
    return tuple(versions)


def fhir_outputs(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``fhir_outputs`` as given (``"study,ndjson"`` or a list; default all three), checked."""
    if value is None:
        return OUTPUTS
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown or not names:
        what = f"unknown FHIR output {', '.join(unknown)}" if unknown else "no FHIR output named"
        raise ValueError(f"{what}; choose one or more of {', '.join(OUTPUTS)}")
    return tuple(name for name in OUTPUTS if name in names)


def render_resource(resource: dict[str, Any], version: str, outputs: Sequence[str], validate: bool) -> RenderedResource:
    kind, rid = resource["resourceType"], resource["id"]
    data = orjson.dumps(resource)
    pretty = entry = None
    if kind == "ResearchStudy" and "study" in outputs:
        pretty = orjson.dumps(resource, option=orjson.OPT_INDENT_2)
    if "bundle" in outputs:
        full_url = f"urn:uuid:{uuid5(NAMESPACE_URL, f'{kind}/{rid}')}".encode()  # stable, absolute
        entry = b'{"fullUrl":"%s","resource":%s,"request":{"method":"PUT","url":"%s/%s"}}' % (
            full_url,
            data,
            kind.encode(),
            rid.encode(),
        )
    problems: tuple[str, ...] = ()
    if validate:
        check = _organization_problems if kind == "Organization" else _problems
        problems = check(kind, rid, version, data)
    line = data + b"\n" if "ndjson" in outputs else None
    return RenderedResource(kind, rid, line, pretty, entry, problems)


def _problems(kind: str, rid: str, version: str, data: bytes) -> tuple[str, ...]:
    from trialport.fhir.validate import problems

    return tuple(f"{version} {kind}/{rid}: {problem}" for problem in problems(orjson.loads(data), version))


_organization_problems = lru_cache(maxsize=4096)(_problems)  # the same sponsor recurs: check it once per process


class _VersionWriter:
    def __init__(self, folder: Path, version: str, outputs: Sequence[str]) -> None:
        self.folder, self.version = staged(folder), version  # a run's studies appear only when it succeeds
        self.ndjson = (
            {kind: AtomicFile(folder / f"{kind}.ndjson") for kind in ("ResearchStudy", "Organization")}
            if "ndjson" in outputs
            else {}
        )
        self.bundle = AtomicFile(folder / "bundle.json") if "bundle" in outputs else None
        if self.bundle:
            self.bundle.write(b'{"resourceType":"Bundle","type":"transaction","entry":[')
        self.entries = 0
        self.organizations: set[str] = set()
        self.invalid: list[str] = []

    def write(self, rendered: Sequence[RenderedResource]) -> None:
        for resource in rendered:
            if resource.kind == "Organization":
                if resource.id in self.organizations:
                    continue
                self.organizations.add(resource.id)
            self.invalid += resource.problems
            if resource.pretty is not None:
                put(os.path.join(self.folder, f"{resource.id}.json"), resource.pretty)
            if resource.line is not None:
                self.ndjson[resource.kind].write(resource.line)
            if resource.entry is not None and self.bundle:
                self.bundle.write((b"," if self.entries else b"") + resource.entry)
                self.entries += 1

    def close(self) -> list[str]:
        files = []
        if self.bundle:
            self.bundle.write(b"]}")
            files.append(str(self.bundle.commit()))
        return files + [str(f.commit()) for f in self.ndjson.values()]

    def abort(self) -> None:
        for file in [self.bundle, *self.ndjson.values()]:
            if file:
                file.discard()


class FhirExporter(Exporter):
    name = "fhir"
    description = "FHIR ResearchStudy R5 / R4B: one JSON per study, transaction bundle.json, NDJSON (fhir/<VERSION>/)"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        outputs = fhir_outputs(self.options.get("fhir_outputs"))
        self.writers = [_VersionWriter(self.out_dir / "fhir" / v, v, outputs) for v in fhir_versions(self.options)]

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> tuple[tuple[RenderedResource, ...], ...]:
        """Per FHIR version asked for, the trial's ResearchStudy then its Organizations, serialised."""
        outputs, validate = fhir_outputs(options.get("fhir_outputs")), bool(options.get("validate"))
        return tuple(
            tuple(render_resource(resource, version, outputs, validate) for resource in resources(trial, version))
            for version in fhir_versions(options)
        )

    def write_rendered(self, rendered: tuple[tuple[RenderedResource, ...], ...]) -> None:
        for writer, resources_of_version in zip(self.writers, rendered, strict=True):
            writer.write(resources_of_version)
        self.summary.trials += 1

    def close(self) -> ExportSummary:
        for writer in self.writers:
            self.summary.files += writer.close()
            if writer.invalid:
                self.summary.notes.append(f"{len(writer.invalid)} {writer.version} resources failed validation")
                self.summary.notes += writer.invalid[:20]
        return self.summary

    def abort(self) -> None:
        for writer in self.writers:
            writer.abort()
