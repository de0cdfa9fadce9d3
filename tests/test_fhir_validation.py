"""Every exported resource checked by an independent validator (tests/node/validate.js): FHIR.js driven by
the official HL7 definitions (hl7.fhir.r5.core@5.0.0, hl7.fhir.r4b.core@4.3.0, R4 4.0.1) plus our package
(trialport/fhir/package), and its own checks of every extension and of every coding of a code system it has."""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
from collections import Counter
from pathlib import Path

import fhir_examples
import pytest
from conftest import CTGOV, SEEDS
from fhir_servers import node_tools

from trialport import pipeline
from trialport.fhir.codes import (
    CANONICAL,
    ELIGIBILITY_CHARACTERISTIC_SYSTEM,
    ELIGIBILITY_CRITERIA_EXTENSION,
    INTERVENTION_ARM_EXTENSION,
    INTERVENTION_OTHER_NAME_EXTENSION,
    PLAN_ID_SYSTEM,
    PLAN_TYPE_SYSTEM,
    REFERENCE_TYPE_SYSTEM,
    SITE_STATUS_EXTENSION,
    TIME_FRAME_EXTENSION,
    VERSIONS,
    XVER,
)
from trialport.fhir.referenced import eligibility_group
from trialport.model import Trial

pytestmark = pytest.mark.slow

# What the export holds per version: a study, its sponsors and affiliations, sites, people, eligibility,
# interventions.
EXPORTED_TYPES = {
    "ResearchStudy",
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Group",
    "PlanDefinition",
}


@pytest.fixture(scope="module")
def fhirjs(tmp_path_factory):
    """validate(version, *files_or_resources) → one result per resource: {id, valid, errors, warnings}."""
    node = node_tools()
    folder = tmp_path_factory.mktemp("resources")
    names = itertools.count()

    def validate(version: str, *items: Path | dict) -> list[dict]:
        files = []
        for item in items:
            if isinstance(item, dict):
                files.append(folder / f"{next(names)}.ndjson")
                files[-1].write_text(json.dumps(item) + "\n", encoding="utf-8")
            else:
                files.append(item)
        run = subprocess.run(
            ["node", str(node / "validate.js"), version, *map(str, files)], capture_output=True, text=True, check=True
        )
        return [json.loads(line) for line in run.stdout.splitlines()]

    return validate


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("fhir")
    pipeline.convert([CTGOV, SEEDS], out, ["fhir"], options={"fhir_version": "all"})
    return out / "fhir"


def errors_of(result: dict) -> list[tuple[str, str]]:
    return [(e["location"], e["message"]) for e in result["errors"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_exported_resource_is_valid(fhirjs, exported, version):
    files = sorted((exported / version).glob("*.ndjson"))
    results = fhirjs(version, *files)
    assert [(r["id"], *e) for r in results for e in errors_of(r)] == []
    # a required binding whose value set the validator lacks would pass unchecked: none may be met
    assert [(r["id"], w["message"]) for r in results for w in r["warnings"] if "not checked" in w["message"]] == []
    counts = Counter(r["id"].split("/")[0] for r in results)
    assert counts["ResearchStudy"] == 633
    assert {f.stem for f in files} == EXPORTED_TYPES
    assert set(counts) == EXPORTED_TYPES


def _references(value, found: list[str]) -> list[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_reference_in_the_export_resolves(exported, version):
    """A server taking the export (a transaction, or $import then a search) finds every resource referred to."""
    present, references = set(), []
    for path in (exported / version).glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            present.add(f"{resource['resourceType']}/{resource['id']}")
            _references(resource, references)
    assert references  # sponsors at least
    assert sorted(set(references) - present) == []


def _r4() -> dict:
    return copy.deepcopy(fhir_examples.r4()[0])


def _unknown_extension_of_ours():
    study = _r4()
    study["site"][0]["extension"][0]["url"] = f"{CANONICAL}/StructureDefinition/site-status"
    return study


def _wrong_value_type():
    study = _r4()
    site_status = study["site"][0]["extension"][0]
    site_status["valueString"] = site_status.pop("valueCoding")["code"]
    return study


def _code_not_in_our_code_system():
    study = _r4()
    study["relatedArtifact"][0]["extension"][0]["valueCoding"] = {"system": REFERENCE_TYPE_SYSTEM, "code": "RESULTS"}
    return study


def _status_outside_its_value_set():
    study = _r4()
    study["status"] = "recruiting"  # an R5 progress state, not an R4 status
    return study


def _extension_out_of_its_context():
    study = _r4()
    study["extension"].append({"url": ELIGIBILITY_CRITERIA_EXTENSION, "valueMarkdown": "Inclusion Criteria: adults"})
    return study


def _cross_version_extension_of_no_r5_element():
    study = _r4()
    study["extension"][3]["url"] = XVER + "outcome"  # R5 calls it outcomeMeasure
    return study


def _time_frame_given_twice():
    study = _r4()
    outcome = study["extension"][3]["extension"]
    outcome.append(dict(outcome[-1]))
    return study


def _r5_element_in_r4():
    study = _r4()
    study["associatedParty"] = [party["extension"] for party in study["extension"][:1]]
    return study


def _r5_study_with_r4_habits():
    study = copy.deepcopy(fhir_examples.r5()[0])
    time_frame = study["outcomeMeasure"][0].pop("extension")[0]
    study["extension"] = [time_frame, {"url": XVER + "descriptionSummary", "valueMarkdown": "In R5 an element."}]
    study["site"][0]["extension"][0]["valueCoding"]["code"] = "Recruiting"
    return study


SITE = "ResearchStudy.site[0].extension[0]"
ARTIFACT = "ResearchStudy.relatedArtifact[0].extension[0].valueCoding"
STATUS = f"{CANONICAL}/CodeSystem/recruitment-status"
# Each a resource of the design broken in one way, and exactly what the validator must say of it.
BROKEN_R4 = {
    _unknown_extension_of_ours: [
        (
            SITE,
            f"extension {CANONICAL}/StructureDefinition/site-status has no definition: not in our package "
            "(dev.trialport.fhir.r4) and not an HL7 cross-version extension of ResearchStudy",
        )
    ],
    _wrong_value_type: [(SITE, f"extension {SITE_STATUS_EXTENSION} takes valueCoding, found valueString")],
    _code_not_in_our_code_system: [
        (ARTIFACT, f'code "RESULTS" ({REFERENCE_TYPE_SYSTEM}) is not in value set {CANONICAL}/ValueSet/reference-type'),
        (ARTIFACT, f'code "RESULTS" is not in CodeSystem {REFERENCE_TYPE_SYSTEM}'),
    ],
    _status_outside_its_value_set: [("ResearchStudy.status", 'Code "recruiting" not found in value set')],
    _extension_out_of_its_context: [
        (
            "ResearchStudy.extension[4]",
            f"extension {ELIGIBILITY_CRITERIA_EXTENSION} is not allowed on ResearchStudy: its context is element Group",
        )
    ],
    _cross_version_extension_of_no_r5_element: [
        ("ResearchStudy.extension[3]", f"{XVER}outcome names no element of R5 ResearchStudy (no ResearchStudy.outcome)")
    ],
    _r5_element_in_r4: [("ResearchStudy.associatedParty", "Unexpected property")],
    _time_frame_given_twice: [
        (
            "ResearchStudy.extension[3].extension",
            f"extension {TIME_FRAME_EXTENSION} occurs 2 times, at most 1 allowed here",
        )
    ],
}
BROKEN_R5 = {
    _r5_study_with_r4_habits: [
        (
            "ResearchStudy.extension[0]",
            f"extension {TIME_FRAME_EXTENSION} is not allowed on ResearchStudy: its context is element "
            "ResearchStudy.outcomeMeasure",
        ),
        (
            "ResearchStudy.extension[1]",
            f"{XVER}descriptionSummary: in R5 the element ResearchStudy.descriptionSummary itself is used, "
            "not a cross-version extension",
        ),
        (
            f"{SITE}.valueCoding",
            f'code "Recruiting" ({STATUS}) is not in value set {CANONICAL}/ValueSet/recruitment-status',
        ),
        (f"{SITE}.valueCoding", f'code "Recruiting" is not in CodeSystem {STATUS}'),
    ]
}
# Outside our extensions: a code outside a required value set, an element the resource does not have.
PLAIN = [
    (
        {"resourceType": "ResearchStudy", "id": "nonsense-status", "status": "nonsense"},
        "ResearchStudy.status",
        'Code "nonsense" not found in value set',
    ),
    (
        {"resourceType": "ResearchStudy", "id": "misspelt-element", "status": "active", "titel": "typo"},
        "ResearchStudy.titel",
        "Unexpected property",
    ),
]


def _case_id(build) -> str:
    return "broken-" + build.__name__.strip("_").replace("_", "-")


@pytest.fixture(scope="module")
def controls(fhirjs):
    """verdicts(version) → {resource id: result} for the hand-written resources of that version, valid and
    broken, checked in one run of the validator."""
    verdicts = {}

    def of(version: str) -> dict[str, dict]:
        if version not in verdicts:
            resources = fhir_examples.r5() if version == "R5" else fhir_examples.r4()
            for build in BROKEN_R5 if version == "R5" else BROKEN_R4:
                resources.append(build() | {"id": _case_id(build)})
            resources += [resource for resource, _, _ in PLAIN]
            verdicts[version] = {r["id"]: r for r in fhirjs(version, *resources)}
        return verdicts[version]

    return of


@pytest.mark.parametrize("version", VERSIONS)
def test_resources_of_the_design_are_valid(controls, version):
    """Hand-written after the design (fhir_examples): sites with their per-study status, people, a
    publication, the eligibility Group; our extensions where their contexts allow them (but the postal code:
    the record gives none)."""
    designed = fhir_examples.r5() if version == "R5" else fhir_examples.r4()
    results = [controls(version)[f"{r['resourceType']}/{r['id']}"] for r in designed]
    assert [(r["id"], errors_of(r)) for r in results if not r["valid"]] == []
    assert [r["id"].split("/")[0] for r in results] == [
        "ResearchStudy",
        "Group",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "PractitionerRole",
        "PractitionerRole",
        "Organization",
        "Organization",
    ]


@pytest.mark.parametrize("build", BROKEN_R4, ids=lambda build: build.__name__.strip("_"))
@pytest.mark.parametrize("version", ["R4", "R4B"])
def test_the_validator_catches_what_breaks_the_design(controls, version, build):
    result = controls(version)[f"ResearchStudy/{_case_id(build)}"]
    assert sorted(errors_of(result)) == sorted(BROKEN_R4[build])


def test_the_validator_holds_r5_to_r5_contexts(controls):
    (build,) = BROKEN_R5
    result = controls("R5")[f"ResearchStudy/{_case_id(build)}"]
    assert sorted(errors_of(result)) == sorted(BROKEN_R5[build])


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_catches_a_code_outside_its_value_set(controls, version):
    for resource, location, message in PLAIN:
        assert errors_of(controls(version)[f"ResearchStudy/{resource['id']}"]) == [(location, message)]


def _plan(pid: str = "plan-atezolizumab") -> dict:
    """NCT05798663 (tests/data/ctgov/nsclc-v2-json) written by hand after the design: its intervention DRUG
    Atezolizumab, other names Tecentriq and L01XC32, given in Arms A, B and C."""
    arms = ("Arm A: Atezolizumab", "Arm B: Atezolizumab and Tiragolumab", "Arm C: Atezolizumab and Tiragolumab")
    return {
        "resourceType": "PlanDefinition",
        "id": pid,
        "extension": [
            {"url": INTERVENTION_OTHER_NAME_EXTENSION, "valueString": "Tecentriq"},
            {"url": INTERVENTION_OTHER_NAME_EXTENSION, "valueString": "L01XC32"},
            *({"url": INTERVENTION_ARM_EXTENSION, "valueString": arm} for arm in arms),
        ],
        "identifier": [{"system": PLAN_ID_SYSTEM, "value": pid}],
        "title": "Atezolizumab",
        "type": {"coding": [{"system": PLAN_TYPE_SYSTEM, "code": "clinical-protocol", "display": "Clinical Protocol"}]},
        "status": "unknown",
        "description": "Atezolizumab will be given to participants either intravenously at a dosage of 1200mg or "
        "subcutaneously at a dosage of 1875 mg on Day 1 of each 21-day cycle for Arms A, B, and C, and on days 1 and "
        "22 of concurrent chemoradiotherapy for Arm C only.",
        "topic": [{"text": "DRUG"}],
    }


def _arm_as_a_coding():
    plan = _plan("plan-arm-as-a-coding")
    plan["extension"][2] = {"url": INTERVENTION_ARM_EXTENSION, "valueCoding": {"code": "Arm A"}}
    return plan


def _other_name_with_parts():
    plan = _plan("plan-other-name-with-parts")
    plan["extension"][0]["extension"] = [{"url": "brand", "valueBoolean": True}]
    return plan


def _arm_on_the_study():
    return {
        "resourceType": "ResearchStudy",
        "id": "arm-on-the-study",
        "extension": [{"url": INTERVENTION_ARM_EXTENSION, "valueString": "Arm A: Atezolizumab"}],
        "status": "active",
        "protocol": [{"reference": "PlanDefinition/plan-atezolizumab", "display": "Atezolizumab"}],
    }


def _misspelt_extension():
    plan = _plan("plan-misspelt-extension")
    plan["extension"][2]["url"] = f"{CANONICAL}/StructureDefinition/intervention-arms"
    return plan


PLANS_BROKEN = {
    _arm_as_a_coding: [
        ("PlanDefinition.extension[2]", f"extension {INTERVENTION_ARM_EXTENSION} takes valueString, found valueCoding")
    ],
    _other_name_with_parts: [
        (
            "PlanDefinition.extension[0]",
            f"extension {INTERVENTION_OTHER_NAME_EXTENSION} is a simple extension: it has no sub-extensions",
        ),
        ("PlanDefinition.extension[0].extension[0]", 'extension url "brand" is relative outside a complex extension'),
    ],
    _arm_on_the_study: [
        (
            "ResearchStudy.extension[0]",
            f"extension {INTERVENTION_ARM_EXTENSION} is not allowed on ResearchStudy: its context is element "
            "PlanDefinition",
        )
    ],
    _misspelt_extension: [
        (
            "PlanDefinition.extension[2]",
            f"extension {CANONICAL}/StructureDefinition/intervention-arms has no definition: not in our package "
            "(dev.trialport.fhir.{release}) and not an HL7 cross-version extension of ResearchStudy",
        )
    ],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_judges_the_intervention_extensions(fhirjs, version):
    """A PlanDefinition of the design is valid, its repeated extensions included; each broken one fails with
    exactly what is wrong with it."""
    broken = [build() for build in PLANS_BROKEN]
    results = {r["id"]: r for r in fhirjs(version, _plan(), *broken)}
    assert errors_of(results["PlanDefinition/plan-atezolizumab"]) == []
    release = "r5" if version == "R5" else "r4"
    for build, resource in zip(PLANS_BROKEN, broken, strict=True):
        expected = [(where, message.replace("{release}", release)) for where, message in PLANS_BROKEN[build]]
        assert sorted(errors_of(results[f"{resource['resourceType']}/{resource['id']}"])) == sorted(expected)


@pytest.mark.parametrize("version", ["R4", "R4B"])
def test_the_validator_knows_the_plan_types_in_r4(fhirjs, version):
    """R4 and R4B ship the plan-definition-type code system (R5 leaves it to HL7's terminology package)."""
    plan = _plan("plan-wrong-type")
    plan["type"]["coding"][0]["code"] = "clinical-protocols"
    (result,) = fhirjs(version, plan)
    assert errors_of(result) == [
        ("PlanDefinition.type.coding[0]", f'code "clinical-protocols" is not in CodeSystem {PLAN_TYPE_SYSTEM}')
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_exported_groups_hold_criteria_ages_and_sex(exported, version):
    """The export validated above has Groups with each kind of characteristic: criteria split from the real
    blocks (inclusion and exclusion), age ranges, and a sex."""
    lines = (exported / version / "Group.ndjson").read_text(encoding="utf-8").splitlines()
    kinds = Counter()
    for group in map(json.loads, lines):
        codes = {(c["code"]["coding"][0]["code"], c["exclude"]) for c in group.get("characteristic", [])}
        kinds.update(codes)
    assert kinds[("criterion", False)] > 300 and kinds[("criterion", True)] > 300
    assert kinds[("30525-0", False)] > 300  # age
    assert kinds[("46098-0", False)] > 30  # sex: FEMALE or MALE
    assert {code for code, _ in kinds} == {"criterion", "30525-0", "46098-0"}


# NCT03459976 (tests/data/ctgov/aact-fixtures/legacy-xml), read by hand: Female, 40 Years to 70 Years; one
# inclusion criterion and eight exclusion criteria, of which the first and the last are given here.
def _group(version: str, gid: str = "elig-NCT03459976") -> dict:
    (result,) = pipeline.read([CTGOV / "aact-fixtures" / "legacy-xml" / "NCT03459976.xml"])
    trial = result.result
    assert isinstance(trial, Trial)
    items = {
        "inclusion": ["Age (45 - 70 yr old)."],
        "exclusion": ["Age more than 70 yr and less than 40 yr.", "Smoker."],
    }
    trial = trial.model_copy(update={"eligibility": trial.eligibility.model_copy(update=items)})
    return eligibility_group(trial, version) | {"id": gid}


def _without_exclude(version):
    group = _group(version, "criterion-without-exclude")
    del group["characteristic"][0]["exclude"]
    return group


def _without_value(version):
    group = _group(version, "criterion-without-value")
    del group["characteristic"][2]["valueCodeableConcept"]
    return group


def _criterion_code_misspelt(version):
    group = _group(version, "criterion-code-misspelt")
    group["characteristic"][1]["code"]["coding"][0]["code"] = "criteria"
    return group


def _criterion_display_changed(version):
    group = _group(version, "criterion-display-changed")
    group["characteristic"][1]["code"]["coding"][0]["display"] = "Exclusion criterion"
    return group


def _sex_not_a_gender_code(version):
    group = _group(version, "sex-not-a-gender-code")
    group["characteristic"][-1]["valueCodeableConcept"]["coding"][0]["code"] = "F"
    return group


CRITERION_CODING = "Group.characteristic[1].code.coding[0]"
BROKEN_GROUPS = {
    _without_exclude: [("Group.characteristic[0].exclude", "Missing property")],
    _without_value: [("Group.characteristic[2].value[x]", "Missing property")],
    _criterion_code_misspelt: [
        (CRITERION_CODING, f'code "criteria" is not in CodeSystem {ELIGIBILITY_CHARACTERISTIC_SYSTEM}')
    ],
    _criterion_display_changed: [
        (
            CRITERION_CODING,
            f'display "Exclusion criterion" of {ELIGIBILITY_CHARACTERISTIC_SYSTEM}|criterion is not the CodeSystem\'s '
            '"Eligibility criterion"',
        )
    ],
    _sex_not_a_gender_code: [
        (
            "Group.characteristic[4].valueCodeableConcept.coding[0]",
            'code "F" is not in CodeSystem http://hl7.org/fhir/administrative-gender',
        )
    ],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_judges_the_group_characteristics(fhirjs, version):
    """A Group of criteria, ages and sex is valid in each version; each broken one fails with what is wrong
    with it (a characteristic without exclude or without a value, a criterion code or display not our code
    system's, a sex outside administrative gender)."""
    group = _group(version)
    assert [c["code"]["coding"][0]["code"] for c in group["characteristic"]] == [
        "criterion",
        "criterion",
        "criterion",
        "30525-0",
        "46098-0",
    ]
    broken = [build(version) for build in BROKEN_GROUPS]
    results = {r["id"]: r for r in fhirjs(version, group, *broken)}
    assert errors_of(results["Group/elig-NCT03459976"]) == []
    for build, resource in zip(BROKEN_GROUPS, broken, strict=True):
        # FHIR.js says a missing value[x] once per type it could have
        assert sorted(set(errors_of(results[f"Group/{resource['id']}"]))) == BROKEN_GROUPS[build], build.__name__
