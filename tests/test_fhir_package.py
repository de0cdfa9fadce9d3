"""Our FHIR packages (trialport/fhir/package/r4 and r5): well-formed NPM-style FHIR packages, in step with
the URLs the exporter writes and the tables its codes come from, shipped in the wheel, and valid against
the official R4 and R5 definitions."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from importlib.resources import files
from pathlib import Path

import pytest
from conftest import CTGOV, DATA, ROOT, v2_studies
from fhir_servers import node_tools

from trialport import pipeline
from trialport.fhir.codes import (
    CANONICAL,
    CELL_THERAPY_SYSTEM,
    CRITERION_CODE,
    CRITERION_DISPLAY,
    ELIGIBILITY_CHARACTERISTIC_SYSTEM,
    ELIGIBILITY_CRITERIA_EXTENSION,
    INTERVENTION_ARM_EXTENSION,
    INTERVENTION_OTHER_NAME_EXTENSION,
    RECRUITMENT_STATUS_SYSTEM,
    REFERENCE_TYPE_EXTENSION,
    REFERENCE_TYPE_SYSTEM,
    SITE_POSTAL_CODE_EXTENSION,
    SITE_STATUS_EXTENSION,
    TIME_FRAME_EXTENSION,
    XVER,
)
from trialport.mapping import cart
from trialport.mapping.terminology import ANTIGEN

PACKAGE = Path(str(files("trialport.fhir") / "package"))
RELEASES = {"r4": "4.0.1", "r5": "5.0.0"}
# file → the canonical URL the exporter writes (trialport.fhir.codes, trialport.mapping.terminology)
URLS = {
    "StructureDefinition-outcome-time-frame.json": TIME_FRAME_EXTENSION,
    "StructureDefinition-site-recruitment-status.json": SITE_STATUS_EXTENSION,
    "StructureDefinition-site-postal-code.json": SITE_POSTAL_CODE_EXTENSION,
    "StructureDefinition-reference-type.json": REFERENCE_TYPE_EXTENSION,
    "StructureDefinition-eligibility-criteria.json": ELIGIBILITY_CRITERIA_EXTENSION,
    "StructureDefinition-intervention-other-name.json": INTERVENTION_OTHER_NAME_EXTENSION,
    "StructureDefinition-intervention-arm.json": INTERVENTION_ARM_EXTENSION,
    "CodeSystem-recruitment-status.json": RECRUITMENT_STATUS_SYSTEM,
    "CodeSystem-reference-type.json": REFERENCE_TYPE_SYSTEM,
    "CodeSystem-cell-therapy.json": CELL_THERAPY_SYSTEM,
    "CodeSystem-antigen.json": ANTIGEN,
    "CodeSystem-eligibility-characteristic.json": ELIGIBILITY_CHARACTERISTIC_SYSTEM,
    "ValueSet-recruitment-status.json": f"{CANONICAL}/ValueSet/recruitment-status",
    "ValueSet-reference-type.json": f"{CANONICAL}/ValueSet/reference-type",
}
# extension → (value type, value set it binds to, contexts in R4/R4B, contexts in R5, how often per element)
EXTENSIONS = {
    TIME_FRAME_EXTENSION: (
        "string",
        None,
        [("extension", XVER + "outcomeMeasure")],
        [("element", "ResearchStudy.outcomeMeasure")],
        "1",
    ),
    SITE_STATUS_EXTENSION: (
        "Coding",
        f"{CANONICAL}/ValueSet/recruitment-status",
        [("element", "ResearchStudy.site")],
        [("element", "ResearchStudy.site")],
        "1",
    ),
    SITE_POSTAL_CODE_EXTENSION: (
        "string",
        None,
        [("element", "ResearchStudy.site")],
        [("element", "ResearchStudy.site")],
        "1",
    ),
    REFERENCE_TYPE_EXTENSION: (
        "Coding",
        f"{CANONICAL}/ValueSet/reference-type",
        [("element", "RelatedArtifact")],
        [("element", "RelatedArtifact")],
        "1",
    ),
    ELIGIBILITY_CRITERIA_EXTENSION: ("markdown", None, [("element", "Group")], [("element", "Group")], "1"),
    # an intervention has any number of other names, and arms that give it
    INTERVENTION_OTHER_NAME_EXTENSION: (
        "string",
        None,
        [("element", "PlanDefinition")],
        [("element", "PlanDefinition")],
        "*",
    ),
    INTERVENTION_ARM_EXTENSION: ("string", None, [("element", "PlanDefinition")], [("element", "PlanDefinition")], "*"),
}


def load(release: str, name: str) -> dict:
    return json.loads((PACKAGE / release / name).read_text(encoding="utf-8"))


def resources(release: str) -> dict[str, dict]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((PACKAGE / release).glob("*.json"))
        if path.name not in ("package.json", ".index.json")
    }


@pytest.mark.parametrize("release", RELEASES)
def test_package_json(release):
    package = load(release, "package.json")
    core = {"r4": "hl7.fhir.r4.core", "r5": "hl7.fhir.r5.core"}[release]
    assert package["name"] == f"dev.trialport.fhir.{release}"
    assert package["canonical"] == CANONICAL
    assert package["fhirVersions"] == [RELEASES[release]]
    assert package["dependencies"] == {core: RELEASES[release]}
    assert package["version"] == "0.1.0"
    assert package["type"] == "Conformance"


@pytest.mark.parametrize("release", RELEASES)
def test_index_lists_every_file(release):
    index = load(release, ".index.json")
    found = resources(release)
    assert index["index-version"] == 1
    assert sorted(entry["filename"] for entry in index["files"]) == sorted(found) == sorted(URLS)
    for entry in index["files"]:
        resource = found[entry["filename"]]
        assert entry["filename"] == f"{resource['resourceType']}-{resource['id']}.json"
        for key in ("resourceType", "id", "url", "version", "kind", "type", "derivation", "content"):
            assert entry.get(key) == resource.get(key), (entry["filename"], key)


@pytest.mark.parametrize("release", RELEASES)
def test_every_url_is_the_one_the_exporter_writes(release):
    version = load(release, "package.json")["version"]
    for name, resource in resources(release).items():
        assert resource["url"] == URLS[name] == f"{CANONICAL}/{resource['resourceType']}/{resource['id']}"
        assert resource["version"] == version
        assert (resource["status"], resource["experimental"], resource["publisher"]) == ("active", False, "trialport")
        assert resource["name"].isidentifier() and resource["name"][0].isupper()  # a computable name


@pytest.mark.parametrize("release", RELEASES)
def test_extension_definitions(release):
    for name in [n for n in URLS if n.startswith("StructureDefinition-")]:
        definition = load(release, name)
        value_type, value_set, r4_contexts, r5_contexts, most = EXTENSIONS[definition["url"]]
        assert definition["kind"] == "complex-type"
        assert definition["abstract"] is False
        assert definition["type"] == "Extension"
        assert definition["derivation"] == "constraint"
        assert definition["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Extension"
        assert definition["fhirVersion"] == RELEASES[release]
        contexts = [(c["type"], c["expression"]) for c in definition["context"]]
        assert contexts == (r5_contexts if release == "r5" else r4_contexts)
        elements = {e["id"]: e for e in definition["differential"]["element"]}
        assert list(elements) == ["Extension", "Extension.extension", "Extension.url", "Extension.value[x]"]
        assert all(e["path"] == e["id"] for e in elements.values())
        assert (elements["Extension"]["min"], elements["Extension"]["max"]) == (0, most)
        assert elements["Extension.extension"]["max"] == "0"  # a simple extension
        assert elements["Extension.url"]["fixedUri"] == definition["url"]
        value = elements["Extension.value[x]"]
        assert value["min"] == 1
        assert value["type"] == [{"code": value_type}]
        assert value.get("binding") == ({"strength": "required", "valueSet": value_set} if value_set else None)


@pytest.mark.parametrize("release", RELEASES)
def test_value_sets_hold_their_whole_code_system(release):
    for name in ("recruitment-status", "reference-type"):
        value_set = load(release, f"ValueSet-{name}.json")
        code_system = load(release, f"CodeSystem-{name}.json")
        assert value_set["compose"] == {"include": [{"system": code_system["url"]}]}
        assert code_system["valueSet"] == value_set["url"]


def _codes(release: str, name: str) -> dict[str, dict]:
    code_system = load(release, f"CodeSystem-{name}.json")
    assert (code_system["content"], code_system["caseSensitive"]) == ("complete", True)
    assert code_system["count"] == len(code_system["concept"])
    for concept in code_system["concept"]:
        assert concept["code"] and concept["display"] and concept["definition"], concept
    codes = {c["code"]: c for c in code_system["concept"]}
    assert len(codes) == len(code_system["concept"])
    return codes


@pytest.mark.parametrize("release", RELEASES)
def test_recruitment_statuses_are_the_registrys(release):
    codes = _codes(release, "recruitment-status")
    assert list(codes) == [
        "RECRUITING",
        "NOT_YET_RECRUITING",
        "ACTIVE_NOT_RECRUITING",
        "COMPLETED",
        "ENROLLING_BY_INVITATION",
        "SUSPENDED",
        "TERMINATED",
        "WITHDRAWN",
        "UNKNOWN",
        "AVAILABLE",
        "NO_LONGER_AVAILABLE",
        "TEMPORARILY_NOT_AVAILABLE",
        "APPROVED_FOR_MARKETING",
        "WITHHELD",
    ]
    assert codes["ACTIVE_NOT_RECRUITING"]["display"] == "Active, not recruiting"
    # every overall and site status the API v2 records in tests/data give is a code
    given = set()
    for study in v2_studies():
        protocol = study["protocolSection"]
        given.add(protocol["statusModule"]["overallStatus"])
        given.update(
            s["status"] for s in protocol.get("contactsLocationsModule", {}).get("locations", []) if "status" in s
        )
    assert given == set(list(codes)[:9])  # all but the expanded-access statuses and WITHHELD


@pytest.mark.parametrize("release", RELEASES)
def test_reference_types_are_the_registrys(release):
    codes = _codes(release, "reference-type")
    assert list(codes) == ["BACKGROUND", "RESULT", "DERIVED"]
    given = {
        r["type"]
        for study in v2_studies()
        for r in study["protocolSection"].get("referencesModule", {}).get("references", [])
        if "type" in r
    }
    assert given == {"BACKGROUND", "RESULT", "DERIVED"}


def test_cell_therapy_codes_are_the_modalities_found():
    with (DATA / "cart-labels.csv").open(encoding="utf-8") as handle:  # the CAR trials, read by hand
        labelled = {row["modality"] for row in csv.DictReader(handle)}
    found = {r.result.cell_therapy.modality for r in pipeline.read([CTGOV / "mrd-aml-csv"]) if r.result.cell_therapy}
    with (ROOT / "trialport" / "mapping" / "data" / "cell_products.csv").open(encoding="utf-8") as handle:
        products = {row["modality"] for row in csv.DictReader(handle)}
    # every modality cart.py gives
    emitted = {"CAR-T", "CAR-NK", "CAR-NKT", "CAR-M", *cart._STEM_MODALITY.values(), *products}
    for release in RELEASES:
        codes = _codes(release, "cell-therapy")
        assert list(codes) == ["CAR-T", "CAR-NK", "CAR-NKT", "TCR-T", "CAR-M"]
        assert emitted == set(codes)
        # NCT03326921 ("HA-1 T TCR T Cell") is the one engineered TCR-T trial of the export, read by hand
        assert labelled == {"CAR-T", "CAR-NK"} and found == labelled | {"TCR-T"}


@pytest.mark.parametrize("release", RELEASES)
def test_antigen_codes_are_the_table_rows_without_a_gene(release):
    codes = _codes(release, "antigen")
    root = ROOT / "trialport" / "mapping" / "data" / "antigens.csv"
    with root.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if not row["hgnc_id"]]
    assert [r["key"] for r in rows] == list(codes) == ["GD2", "LeY", "HPV-16 E7", "HIV-1 Env"]
    for row in rows:
        concept = codes[row["key"]]
        assert concept["display"] == row["display"]
        assert [d["value"] for d in concept["designation"]] == row["synonyms"].split("|")
    assert codes["GD2"]["display"] == "GD2 ganglioside (a glycolipid: no gene code)"
    assert [d["value"] for d in codes["LeY"]["designation"]] == ["Lewis-Y", "Le(y)"]


@pytest.mark.parametrize("release", RELEASES)
def test_the_eligibility_characteristic_is_the_criterion_the_export_writes(release):
    """One code: a criterion of the eligibility block as text; inclusion or exclusion is the characteristic's
    ``exclude``, not a code of its own."""
    codes = _codes(release, "eligibility-characteristic")
    assert list(codes) == [CRITERION_CODE] == ["criterion"]
    assert codes["criterion"]["display"] == CRITERION_DISPLAY == "Eligibility criterion"
    assert "exclude" in codes["criterion"]["definition"]


def test_both_releases_define_the_same_things():
    """One set of definitions in two FHIR releases: code systems and value sets alike; extensions alike
    but for the FHIR version they are based on and, for the time frame, the context (R4 has no
    ResearchStudy.outcomeMeasure; the cross-version extension carries it there)."""
    r4, r5 = resources("r4"), resources("r5")
    for name in URLS:
        if name.startswith("StructureDefinition-"):
            different = {k for k in r4[name].keys() | r5[name].keys() if r4[name].get(k) != r5[name].get(k)}
            assert different <= {"fhirVersion", "context", "description", "differential"}, name
            assert "fhirVersion" in different
            assert ("context" in different) == (name == "StructureDefinition-outcome-time-frame.json")
        else:
            assert r4[name] == r5[name], name


def test_the_wheel_ships_both_packages(tmp_path):
    """The package folders are package data: a wheel built from the sources holds every file."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "trialport", source / "trialport", ignore=shutil.ignore_patterns("__pycache__"))
    build = f"from setuptools import build_meta; print(build_meta.build_wheel(r'{tmp_path / 'dist'}'))"
    run = subprocess.run([sys.executable, "-c", build], cwd=source, capture_output=True, text=True, check=True)
    wheel = tmp_path / "dist" / run.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("trialport/fhir/package/")}
    expected = {
        f"trialport/fhir/package/{r}/{name}" for r in RELEASES for name in [*URLS, "package.json", ".index.json"]
    }
    assert shipped == expected


# --- against the official definitions (tests/node: FHIR.js, HL7's packages) ---


def _paths(prefix: str, properties: list[dict], found: set[str]) -> set[str]:
    for p in properties:
        if not p["_name"].startswith("_"):
            path = f"{prefix}.{p['_choice']}[x]" if p.get("_choice") else f"{prefix}.{p['_name']}"
            found.add(path)
            _paths(path, p.get("_properties", []), found)
    return found


@cache
def _element_paths(version: str) -> frozenset[str]:
    """Every element path of the base resources and data types of a FHIR version, as HL7 defines them: R5
    and R4B from HL7's packages, R4 from FHIR.js's own parse of HL7's 4.0.1 definitions (@medplum's R4
    Bundles graft R5 elements onto ResearchStudy, see tests/node/validate.js)."""
    node = node_tools() / "node_modules"
    if version == "R4":
        parsed = json.loads((node / "fhir" / "profiles" / "types.json").read_text(encoding="utf-8"))
        return frozenset(set(parsed) | {p for name, t in parsed.items() for p in _paths(name, t["_properties"], set())})
    folder = node / ("hl7.fhir.r5.core" if version == "R5" else "hl7.fhir.r4b.core")
    definitions = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("StructureDefinition-*.json")]
    return frozenset(
        e["path"]
        for d in definitions
        if d.get("derivation") != "constraint" and "snapshot" in d
        for e in d["snapshot"]["element"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("release, version", [("r4", "R4"), ("r4", "R4B"), ("r5", "R5")])
def test_every_context_names_an_element_of_its_version(release, version):
    for name in [n for n in URLS if n.startswith("StructureDefinition-")]:
        for context in load(release, name)["context"]:
            if context["type"] == "element":
                assert context["expression"] in _element_paths(version), (name, context)
            else:  # inside HL7's cross-version extension for an R5 element
                assert context["type"] == "extension" and context["expression"].startswith(XVER)
                assert "ResearchStudy." + context["expression"][len(XVER) :] in _element_paths("R5")
    if release == "r4":  # why the time frame's context differs
        assert "ResearchStudy.outcomeMeasure" not in _element_paths(version)


# What each FHIR version's validator is given: the R4 package serves R4 and R4B, and its resources are valid
# R5 as well; the R5 package serves R5 (and one of its definitions goes to R4, to fail there).
CHECKED = {
    "R4": [("r4", name) for name in URLS] + [("r5", "StructureDefinition-site-recruitment-status.json")],
    "R4B": [("r4", name) for name in URLS],
    "R5": [(release, name) for release in RELEASES for name in URLS],
}


@pytest.fixture(scope="module")
def verdicts():
    """version → {(release, file): result}, from one run of tests/node/validate.js per version."""
    found = {}

    def of(version: str) -> dict[tuple[str, str], dict]:
        if version not in found:
            paths = [PACKAGE / release / name for release, name in CHECKED[version]]
            run = subprocess.run(
                ["node", str(node_tools() / "validate.js"), version, *map(str, paths)],
                capture_output=True,
                text=True,
                check=True,
            )
            results = [json.loads(line) for line in run.stdout.splitlines()]
            assert len(results) == len(paths)
            found[version] = dict(zip(CHECKED[version], results, strict=True))
        return found[version]

    return of


@pytest.mark.slow
@pytest.mark.parametrize("release, version", [("r4", "R4"), ("r4", "R4B"), ("r4", "R5"), ("r5", "R5")])
def test_the_definitions_are_valid_fhir(verdicts, release, version):
    """Each StructureDefinition, CodeSystem and ValueSet validates against the official definitions of
    the versions it serves."""
    results = {name: result for (r, name), result in verdicts(version).items() if r == release}
    assert sorted(results) == sorted(URLS)
    assert {name: r["errors"] for name, r in results.items() if not r["valid"]} == {}
    for name, result in results.items():
        assert result["id"] == f"{name.split('-', 1)[0]}/{load(release, name)['id']}"


@pytest.mark.slow
def test_an_r5_definition_is_no_r4_resource(verdicts):
    """Why the package comes in two releases: R4 knows no FHIR version 5.0.0."""
    result = verdicts("R4")[("r5", "StructureDefinition-site-recruitment-status.json")]
    assert [(e["location"], e["message"]) for e in result["errors"]] == [
        ("StructureDefinition.fhirVersion", 'Code "5.0.0" not found in value set')
    ]
