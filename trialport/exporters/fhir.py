"""FHIR ResearchStudy (R5; R4B and R4 for older servers) under ``out/fhir/<VERSION>/``.

Per version: one JSON file per ResearchStudy, ``bundle.json`` (a transaction Bundle that upserts every
resource by its stable id: ``PUT ResearchStudy/<id>``), and one NDJSON file per resource type for bulk
``$import`` (ResearchStudy, Organization, Location, Practitioner, PractitionerRole, Group, PlanDefinition);
``fhir_outputs`` picks which of the three (a whole registry wants NDJSON, not 500,000 files).

Building and serialising happen in ``render`` (in worker processes under ``--jobs``); the writing
process only appends bytes, in input order. A resource many studies share (an Organization, a
Location, a Practitioner, a PractitionerRole) is written once, the first time: the writer remembers
the 64 bits of each id's hash, nothing more. In the Bundle, what a study refers to comes before it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL

import orjson

from trialport.atomic import AtomicFile, put, staged
from trialport.exporters.base import Exporter, ExportSummary
from trialport.fhir.build import all_versions
from trialport.fhir.codes import VERSIONS
from trialport.model import Trial

OUTPUTS = ("study", "bundle", "ndjson")
KINDS = ("ResearchStudy", "Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition")
SHARED = ("Organization", "Location", "Practitioner", "PractitionerRole")  # written once, however many refer


class RenderedResource(NamedTuple):
    """One resource serialised: compact JSON for NDJSON and the Bundle, indented for ``<id>.json``."""

    kind: str
    id: str
    data: bytes  # compact JSON, no newline
    pretty: bytes | None  # indented JSON, for <id>.json (ResearchStudy, when asked for)
    problems: tuple[str, ...]  # validation findings, when validating


def fhir_versions(options: Mapping[str, Any]) -> tuple[str, ...]:
    wanted = options.get("fhir_version", "R5")
    versions = VERSIONS if wanted == "all" else (wanted,)
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise ValueError(f"unknown FHIR version {', '.join(unknown)}; choose R5, R4B, R4 or all")
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


def render_resource(
    resource: dict[str, Any], version: str, outputs: Sequence[str], validate: bool, memo: dict | None = None
) -> RenderedResource:
    """``memo`` (resource object → its bytes) lets the versions of one trial share the serialising of
    the resources that are the same in every version (Organization, Location, Practitioner,
    PlanDefinition)."""
    kind, rid = resource["resourceType"], resource["id"]
    done = memo.get(id(resource)) if memo is not None else None
    if done is None:
        data = orjson.dumps(resource)
        pretty = (
            orjson.dumps(resource, option=orjson.OPT_INDENT_2)
            if kind == "ResearchStudy" and "study" in outputs
            else None
        )
        if memo is not None:
            memo[id(resource)] = (data, pretty)
    else:
        data, pretty = done
    problems: tuple[str, ...] = ()
    if validate:
        problems = (_shared_problems if kind in SHARED else _problems)(kind, rid, version, data)
    return RenderedResource(kind, rid, data, pretty, problems)


_NAMESPACE_URL = NAMESPACE_URL.bytes


def full_url(kind: str, rid: str) -> bytes:
    """``urn:uuid:`` + uuid5(NAMESPACE_URL, "Kind/id"), stable and absolute, without building a UUID object."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_URL + f"{kind}/{rid}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()


def _problems(kind: str, rid: str, version: str, data: bytes) -> tuple[str, ...]:
    from trialport.fhir.validate import problems

    return tuple(f"{version} {kind}/{rid}: {problem}" for problem in problems(orjson.loads(data), version))


_shared_problems = lru_cache(maxsize=16384)(_problems)  # a shared resource recurs: check it once per process


class _VersionWriter:
    def __init__(self, folder: Path, version: str, outputs: Sequence[str]) -> None:
        self.folder, self.version = staged(folder), version  # a run's studies appear only when it succeeds
        self.ndjson = {kind: AtomicFile(folder / f"{kind}.ndjson") for kind in KINDS} if "ndjson" in outputs else {}
        self.bundle = AtomicFile(folder / "bundle.json") if "bundle" in outputs else None
        if self.bundle:
            self.bundle.write(b'{"resourceType":"Bundle","type":"transaction","entry":[')
        self.entries = 0
        self.written: dict[str, set[int]] = {kind: set() for kind in SHARED}
        self.invalid: list[str] = []

    def write(self, rendered: Sequence[RenderedResource]) -> None:
        """Write what is new: a shared resource seen before is passed over, unserialised further."""
        for resource in rendered:
            kind, rid, data = resource.kind, resource.id, resource.data
            written = self.written.get(kind)
            if written is not None:
                key = int(rid[-16:], 16)  # the id's 64 hash bits: all it takes to know it again
                if key in written:
                    continue
                written.add(key)
            if resource.problems:
                self.invalid += resource.problems
            if resource.pretty is not None:
                put(os.path.join(self.folder, f"{rid}.json"), resource.pretty)
            if self.ndjson:
                self.ndjson[kind].write(data + b"\n")
            if self.bundle:
                self.bundle.write(
                    b'%s{"fullUrl":"%s","resource":%s,"request":{"method":"PUT","url":"%s/%s"}}'
                    % (b"," if self.entries else b"", full_url(kind, rid), data, kind.encode(), rid.encode())
                )
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
    description = (
        "FHIR ResearchStudy R5 / R4B / R4 and what it refers to: one JSON per study, transaction bundle.json, "
        "NDJSON per resource type (fhir/<VERSION>/)"
    )

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        outputs = fhir_outputs(self.options.get("fhir_outputs"))
        self.writers = [_VersionWriter(self.out_dir / "fhir" / v, v, outputs) for v in fhir_versions(self.options)]

    @classmethod
    def render(cls, trial: Trial, options: Mapping[str, Any]) -> tuple[tuple[RenderedResource, ...], ...]:
        """Per FHIR version asked for, what the trial's ResearchStudy refers to, then the study, serialised
        (R4's bytes are R4B's: the same resources)."""
        outputs, validate = fhir_outputs(options.get("fhir_outputs")), bool(options.get("validate"))
        versions = fhir_versions(options)
        built = all_versions(trial, versions)
        rendered: dict[str, tuple[RenderedResource, ...]] = {}
        memo: dict[int, tuple[bytes, bytes | None]] = {}
        for version in versions:
            study, *referenced = built[version]
            same = next((v for v in rendered if built[v] is built[version]), None)
            if same and not validate:
                rendered[version] = rendered[same]
            else:
                rendered[version] = tuple(
                    render_resource(resource, version, outputs, validate, memo) for resource in [*referenced, study]
                )
        return tuple(rendered[version] for version in versions)

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
