"""FHIR ResearchStudy (R5, and R4B for R4-era servers) under ``out/fhir/<VERSION>/``.

Per version: one JSON file per ResearchStudy, ``bundle.json`` (a transaction Bundle that upserts every
resource by its stable id: ``PUT ResearchStudy/<id>``), and one NDJSON file per resource type for bulk
``$import``. Everything streams; only the ids of Organizations already written are remembered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import orjson

from trialport.atomic import AtomicFile, write_bytes
from trialport.exporters.base import Exporter, ExportSummary
from trialport.fhir.build import resources
from trialport.fhir.codes import VERSIONS
from trialport.model import Trial


class _VersionWriter:
    def __init__(self, folder: Path, version: str, validate: bool) -> None:
        self.folder, self.version, self.validate = folder, version, validate
        self.ndjson = {kind: AtomicFile(folder / f"{kind}.ndjson") for kind in ("ResearchStudy", "Organization")}
        self.bundle = AtomicFile(folder / "bundle.json")
        self.bundle.write(b'{"resourceType":"Bundle","type":"transaction","entry":[')
        self.entries = 0
        self.organizations: set[str] = set()
        self.invalid: list[str] = []

    def write(self, trial: Trial) -> None:
        for resource in resources(trial, self.version):
            kind, rid = resource["resourceType"], resource["id"]
            if kind == "Organization":
                if rid in self.organizations:
                    continue
                self.organizations.add(rid)
            if self.validate:
                self._check(resource)
            data = orjson.dumps(resource)
            if kind == "ResearchStudy":
                pretty = orjson.dumps(resource, option=orjson.OPT_INDENT_2)
                write_bytes(self.folder / f"{rid}.json", pretty, durable=False)
            self.ndjson[kind].write(data + b"\n")
            full_url = f"urn:uuid:{uuid5(NAMESPACE_URL, f'{kind}/{rid}')}".encode()  # stable, absolute
            entry = b'{"fullUrl":"%s","resource":%s,"request":{"method":"PUT","url":"%s/%s"}}' % (
                full_url,
                data,
                kind.encode(),
                rid.encode(),
            )
            self.bundle.write((b"," if self.entries else b"") + entry)
            self.entries += 1

    def _check(self, resource: dict[str, Any]) -> None:
        from trialport.fhir.validate import problems

        for problem in problems(resource, self.version):
            self.invalid.append(f"{self.version} {resource['resourceType']}/{resource['id']}: {problem}")

    def close(self) -> list[str]:
        self.bundle.write(b"]}")
        return [str(self.bundle.commit()), *(str(f.commit()) for f in self.ndjson.values())]

    def abort(self) -> None:
        self.bundle.discard()
        for file in self.ndjson.values():
            file.discard()


class FhirExporter(Exporter):
    name = "fhir"
    description = "FHIR ResearchStudy R5 / R4B: one JSON per study, transaction bundle.json, NDJSON (fhir/<VERSION>/)"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(out_dir, options)
        wanted = self.options.get("fhir_version", "R5")
        versions = VERSIONS if wanted == "all" else (wanted,)
        unknown = [v for v in versions if v not in VERSIONS]
        if unknown:
            raise ValueError(f"unknown FHIR version {', '.join(unknown)}; choose R5, R4B or all")
        validate = bool(self.options.get("validate"))
        self.writers = [_VersionWriter(self.out_dir / "fhir" / v, v, validate) for v in versions]

    def write(self, trial: Trial) -> None:
        for writer in self.writers:
            writer.write(trial)
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
