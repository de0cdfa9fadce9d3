"""The mCODE converter (npm clinical-trial-matching-service 0.1.2, ``createResearchStudyFromClinicalStudy``)
beside trialport's FHIR R4 export: for every element the mCODE converter writes, the values each study
holds there, and the values the same study holds where trialport carries the same information.

mCODE writes one ResearchStudy a study with everything else contained (a Location per site row, a Group
whose reference's display is the criteria, a PlanDefinition per intervention and arm). trialport writes
shared resources in NDJSON files of their own: a Location per place, referenced from ``site`` (the
study's recruitment status at that site on the reference); site contacts as PractitionerRoles that name
the Location and carry the telecom, reached from the study through its references; the eligibility Group
referenced from ``enrollment``; interventions as ``focus`` and as one PlanDefinition each (not one per
intervention and arm, as mCODE writes them), referenced from ``protocol``: the name its title, the type the
text of its ``topic``, the description its description, every other name and every arm that gives it in
extensions of ours (mCODE keeps the first other name, in ``subtitle``, and an arm per PlanDefinition, in
``subjectCodeableConcept``). ``ELEMENTS`` is that mapping, element by element; a value is a tuple that
names what it belongs to (the site, the contact, the arm, the intervention), so values are compared per
study and per owner, not merely counted.

Values are compared as text up to backslashes and the extent of white space: trialport repairs the
registry's text (markdown escapes such as ``\\>``, runs of spaces, spaces at line ends), mCODE copies it
verbatim.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import ROOT

MCODE = ROOT / "benchmarks" / "mcode"
NCT_SYSTEM = "https://clinicaltrials.gov"
ELIGIBILITY_CRITERIA = "https://trialport.dev/fhir/StructureDefinition/eligibility-criteria"
SITE_STATUS = "https://trialport.dev/fhir/StructureDefinition/site-recruitment-status"
SITE_POSTAL_CODE = "https://trialport.dev/fhir/StructureDefinition/site-postal-code"
XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy."
OTHER_NAME = "https://trialport.dev/fhir/StructureDefinition/intervention-other-name"
ARM = "https://trialport.dev/fhir/StructureDefinition/intervention-arm"

# The mCODE converter's own maps (study-fhir-converter.js), to set trialport's registry values beside its output.
MCODE_PHASE = {
    "NA": "n-a",
    "EARLY_PHASE1": "early-phase-1",
    "PHASE1": "phase-1",
    "PHASE2": "phase-2",
    "PHASE3": "phase-3",
    "PHASE4": "phase-4",
}
MCODE_LOCATION_STATUS = {
    "ACTIVE_NOT_RECRUITING": "active",
    "COMPLETED": "inactive",
    "ENROLLING_BY_INVITATION": "active",
    "NOT_YET_RECRUITING": "inactive",
    "RECRUITING": "active",
    "SUSPENDED": "suspended",
    "TERMINATED": "inactive",
    "WITHDRAWN": "inactive",
    "AVAILABLE": "active",
}

Resource = dict[str, Any]
PHONE_EXTENSION = (
    "mCODE drops a phone's extension; trialport keeps it ('<phone> ext. <n>'), which holds mCODE's '<phone>'"
)


def converter() -> Path:
    """benchmarks/mcode/convert.js with its npm packages installed (``npm ci`` from its lock file the first
    time; the sqlite3 the package requires compiles from source where no prebuilt binary downloads)."""
    from conftest import tool_missing

    if not shutil.which("node") or not shutil.which("npm"):
        tool_missing("Node.js and npm are needed to run the mCODE converter (install nodejs and npm)")
    if not (MCODE / "node_modules" / "clinical-trial-matching-service").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCODE, check=True)
    return MCODE / "convert.js"


def run_mcode(studies: list[dict], folder: Path) -> dict[str, Resource]:
    """The mCODE converter's ResearchStudy of each study, by NCT number."""
    studies_file, out = folder / "studies.jsonl", folder / "mcode.ndjson"
    studies_file.write_text("".join(json.dumps(s) + "\n" for s in studies), encoding="utf-8")
    subprocess.run(["node", str(converter()), str(studies_file), str(out)], check=True, capture_output=True)
    converted = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {study["identifier"][0]["value"]: study for study in converted}


def load_ndjson(folder: Path) -> dict[str, Resource]:
    """Every resource of a folder of ``<Type>.ndjson`` files, by ``Type/id``: references resolve here."""
    found = {}
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            found[f"{resource['resourceType']}/{resource['id']}"] = resource
    return found


def text(value: str | None) -> str | None:
    """The comparison form of a text: no backslashes, each run of white space one space (see the module's
    docstring)."""
    return " ".join(value.replace("\\", "").split()) if value else None


# --- the mCODE side: one ResearchStudy, its resources contained -------------------------------------


class McodeStudy:
    def __init__(self, study: Resource) -> None:
        self.study = study
        self.contained = {f"#{r['id']}": r for r in study.get("contained", [])}
        self.sites = [self.contained[ref["reference"]] for ref in study.get("site", [])]
        self.plans = [self.contained[ref["reference"]] for ref in study.get("protocol", [])]


def _site(location: Resource) -> tuple[str | None, str | None]:
    return text(location.get("name")), text((location.get("address") or {}).get("city"))


def _place(location: Resource) -> tuple:
    address, position = location.get("address") or {}, location.get("position") or {}
    return (
        *_site(location),
        text(address.get("state")),
        text(address.get("postalCode")),
        text(address.get("country")),
        position.get("latitude"),
        position.get("longitude"),
    )


def _telecom(resource: Resource, system: str) -> Iterator[str]:
    for point in resource.get("telecom", []):
        if point.get("system") == system and point.get("value"):
            yield text(point["value"])


def mcode_category(concept: Resource) -> tuple[str, str]:
    """ "Intervention Model: Single Group" → ("intervention model", "SINGLE_GROUP"): the API v2 value that
    mCODE title-cased (its "Observation Model" is the registry's observational model)."""
    label, _, value = concept["text"].partition(": ")
    label = label.lower().replace("observation model", "observational model")
    return label, value.upper().replace(" ", "_")


def mcode_phase(concept: Resource) -> str:
    return concept["coding"][0]["code"]


def mcode_plan(plan: Resource, element: str) -> tuple | None:
    title = text(plan.get("title"))
    if element == "title":
        return (title,)
    if element == "type":
        return title, plan["type"]["text"].upper().replace(" ", "_") if plan.get("type") else None
    if element == "subjectCodeableConcept":
        return title, text((plan.get("subjectCodeableConcept") or {}).get("text"))
    return title, text(plan.get(element))


# --- the trialport side: the study and every resource it references ------------------------------------


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _seen_from(site: Resource, location: Resource) -> Resource:
    """A Location as one study gives it. Studies share one Location per facility, city, state and country
    (up to case and punctuation), named as the first study spelled it; the study's own spelling is the
    display of its reference, and the postal code it gives is an extension on that reference."""
    postal = next((e["valueString"] for e in site.get("extension", []) if e["url"] == SITE_POSTAL_CODE), None)
    seen = {**location, "name": site.get("display") or location.get("name")}
    if postal is not None:
        seen["address"] = {**location.get("address", {}), "postalCode": postal}
    return seen


class OurStudy:
    def __init__(self, study: Resource, resources: dict[str, Resource]) -> None:
        self.study, self.resources = study, resources
        self.sites = [(ref, _seen_from(ref, resources[ref["reference"]])) for ref in study.get("site", [])]
        at = {ref["reference"]: location for ref, location in self.sites}
        # site contacts: PractitionerRoles the study references whose location is one of its sites
        self.site_roles = [
            (at[place["reference"]], role)
            for ref in dict.fromkeys(_references(study))
            if ref.startswith("PractitionerRole/") and (role := resources.get(ref))
            for place in role.get("location", [])
            if place.get("reference") in at
        ]
        self.plans = [resources[ref["reference"]] for ref in study.get("protocol", []) if ref["reference"] in resources]

    def extension(self, name: str) -> Iterator[Resource]:
        return (e for e in self.study.get("extension", []) if e["url"] == XVER + name)

    def site_status(self, ref: Resource) -> str | None:
        coding = next((e["valueCoding"] for e in ref.get("extension", []) if e["url"] == SITE_STATUS), None)
        return MCODE_LOCATION_STATUS.get(coding["code"]) if coding else None


# where each PlanDefinition element of mCODE's is in trialport's PlanDefinition (title, description: the same)
_OURS = {
    "type": lambda plan: [t.get("text") for t in plan.get("topic", [])],
    "subtitle": lambda plan: [e["valueString"] for e in plan.get("extension", []) if e["url"] == OTHER_NAME],
    "subjectCodeableConcept": lambda plan: [e["valueString"] for e in plan.get("extension", []) if e["url"] == ARM],
}


def our_plan(study: OurStudy, element: str) -> set:
    """Intervention values, from the PlanDefinitions the study references from ``protocol``, each with the
    intervention's name (the title): the type is the text of ``topic`` (the API v2 value), every other name
    and every arm label in our extensions."""
    found = set()
    for plan in study.plans:
        title = text(plan.get("title"))
        if element == "title":
            found.add((title,))
        elif element in _OURS:
            found |= {(title, text(value)) for value in _OURS[element](plan)}
        elif plan.get(element):
            found.add((title, text(plan[element])))
    return found


def _contacts(resource: Resource, system: str | None) -> set:
    """Central contacts: (name,) of each, or (name, value) of each of their phones or e-mails."""
    found = set()
    for contact in resource.get("contact", []):
        name = text(contact.get("name"))
        found |= {(name, value) for value in _telecom(contact, system)} if system else {(name,)}
    return found


def _phases(study: Resource) -> set:
    """The registry's phases (the text of trialport's one coded phase), in mCODE's codes."""
    return {MCODE_PHASE.get(p) for p in ((study.get("phase") or {}).get("text") or "").split(", ")} - {None}


def _our_description(study: OurStudy) -> set:
    summaries = {text(e["valueMarkdown"]) for e in study.extension("descriptionSummary")}
    return (summaries | {text(study.study.get("description"))}) - {None}


def _criteria(study: OurStudy) -> set:
    found = set()
    for ref in study.study.get("enrollment", []):
        group = study.resources.get(ref.get("reference"), {})
        found |= {text(e.get("valueMarkdown")) for e in group.get("extension", []) if e["url"] == ELIGIBILITY_CRITERIA}
    return found - {None}


def _labels(study: OurStudy) -> set:
    labels = {text(study.study.get("title"))}
    for label in study.extension("label"):
        labels |= {text(part.get("valueString")) for part in label["extension"] if part["url"] == "value"}
    return labels - {None}


def _arm(arm: Resource, element: str) -> tuple:
    """An arm's name, or its name and the element; a type as its API v2 value (mCODE's text is the value
    title-cased: "Active Comparator")."""
    name = text(arm.get("name"))
    if element == "type":
        return name, arm["type"]["text"].upper().replace(" ", "_")
    return (name,) if element == "name" else (name, text(arm.get(element)))


# --- the mapping ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """One element mCODE writes; where trialport carries the same information; the values of one study in
    each. ``required`` False: mCODE's value is not the registry's, so trialport need not hold it (``note``)."""

    path: str
    ours: str
    mcode: Callable[[McodeStudy], set]
    trialport: Callable[[OurStudy], set]
    required: bool = True
    note: str = ""


def _values(items: Any) -> set:
    return {v for v in items if v is not None and v != (None,)}


def _site_element(path: str, ours: str, value: Callable[[Resource], Any], note: str = "") -> Element:
    return Element(
        path,
        ours,
        lambda m: _values((*_site(x), value(x)) for x in m.sites if value(x) is not None),
        lambda o: _values((*_site(x), value(x)) for _, x in o.sites if value(x) is not None),
        note=note,
    )


def _site_telecom(system: str) -> Element:
    return Element(
        f"Location.telecom ({system})",
        f"PractitionerRole.telecom ({system}) of the study's PractitionerRoles whose location is the site",
        lambda m: _values((*_site(x), value) for x in m.sites for value in _telecom(x, system)),
        lambda o: _values((*_site(x), value) for x, role in o.site_roles for value in _telecom(role, system)),
        note=PHONE_EXTENSION if system == "phone" else "",
    )


def _plan_element(element: str, ours: str, note: str = "") -> Element:
    return Element(
        f"PlanDefinition.{element} (ResearchStudy.protocol)",
        ours,
        lambda m: _values(mcode_plan(p, element) for p in m.plans if p.get(element)),
        lambda o: _values(our_plan(o, element)),
        note=note,
    )


ELEMENTS = [
    Element(
        "ResearchStudy.identifier",
        "ResearchStudy.identifier (system https://clinicaltrials.gov)",
        lambda m: {i["value"] for i in m.study.get("identifier", [])},
        lambda o: {i["value"] for i in o.study.get("identifier", []) if i.get("system") == NCT_SYSTEM},
        note="mCODE's system is http://clinicaltrials.gov/ (no https, a trailing slash)",
    ),
    Element(
        "ResearchStudy.title",
        "ResearchStudy.title (brief title); official title and acronym in HL7's cross-version extension for R5's label",
        lambda m: _values({text(m.study.get("title"))}),
        _labels,
    ),
    Element(
        "ResearchStudy.status",
        "ResearchStudy.status (from the registry's overallStatus)",
        lambda m: {m.study["status"]},
        lambda o: {o.study["status"]},
        required=False,
        note="mCODE reads statusModule.lastKnownStatus, which the registry sets only on studies whose status "
        "is UNKNOWN; every other study keeps mCODE's default 'active' (a completed or withdrawn study too)",
    ),
    Element(
        "ResearchStudy.description",
        "HL7's cross-version extension for R5's descriptionSummary (the brief summary); ResearchStudy.description "
        "when there is no detailed description",
        lambda m: _values({text(m.study.get("description"))}),
        _our_description,
    ),
    Element(
        "ResearchStudy.phase",
        "ResearchStudy.phase (one code for a combined phase, phase-1-phase-2; its text the registry's phases)",
        lambda m: {mcode_phase(m.study["phase"])} if "phase" in m.study else set(),
        lambda o: _phases(o.study),
        note="mCODE keeps only the first phase of PHASE1, PHASE2 (phase-1)",
    ),
    Element(
        "ResearchStudy.category",
        "ResearchStudy.category ('allocation: RANDOMIZED': the design fields with their API v2 values)",
        lambda m: {mcode_category(c) for c in m.study.get("category", [])},
        lambda o: {tuple(c["text"].split(": ", 1)) for c in o.study.get("category", [])},
    ),
    Element(
        "ResearchStudy.condition",
        "ResearchStudy.condition.text (with MeSH and curated codings)",
        lambda m: _values(text(c.get("text")) for c in m.study.get("condition", [])),
        lambda o: _values(text(c.get("text")) for c in o.study.get("condition", [])),
    ),
    Element(
        "ResearchStudy.period.start",
        "ResearchStudy.period.start",
        lambda m: _values({(m.study.get("period") or {}).get("start")}),
        lambda o: _values({(o.study.get("period") or {}).get("start")}),
    ),
    Element(
        "ResearchStudy.period.end",
        "ResearchStudy.period.end (the completion date)",
        lambda m: _values({(m.study.get("period") or {}).get("end")}),
        lambda o: _values({(o.study.get("period") or {}).get("end")}),
    ),
    Element(
        "ResearchStudy.enrollment",
        "ResearchStudy.enrollment → Group elig-<id>, criteria in its eligibility-criteria extension",
        lambda m: _values(text(ref.get("display")) for ref in m.study.get("enrollment", [])),
        _criteria,
        note="mCODE's Group is empty: the criteria are only the display text of the reference to it",
    ),
    Element(
        "ResearchStudy.site",
        "ResearchStudy.site → shared Location resources (the study's spelling of the facility: the reference's "
        "display)",
        lambda m: {_place(x) for x in m.sites},
        lambda o: {_place(x) for _, x in o.sites},
        note="a value: a site's name, city, state, postal code, country, latitude and longitude together; "
        "below, each with the site's name and city",
    ),
    _site_element(
        "Location.name",
        "the display of the ResearchStudy.site reference (the study's spelling); Location.name (the first "
        "spelling seen)",
        lambda x: text(x.get("name")),
    ),
    Element(
        "Location.status",
        "the site-recruitment-status extension on the ResearchStudy.site reference (the registry's status; "
        "compared through mCODE's own map to active / inactive / suspended)",
        lambda m: _values((*_site(x), x.get("status")) for x in m.sites if x.get("status")),
        lambda o: _values((*_site(x), o.site_status(ref)) for ref, x in o.sites if o.site_status(ref)),
        note="mCODE folds the study's recruitment at a site into the Location's own status",
    ),
    _site_element(
        "Location.address.city", "Location.address.city", lambda x: text((x.get("address") or {}).get("city"))
    ),
    _site_element(
        "Location.address.state", "Location.address.state", lambda x: text((x.get("address") or {}).get("state"))
    ),
    _site_element(
        "Location.address.postalCode",
        "the site-postal-code extension on the ResearchStudy.site reference (the postal code this study gives "
        "the site), else Location.address.postalCode",
        lambda x: text((x.get("address") or {}).get("postalCode")),
        "where a study gives a site no postal code, the shared Location may hold one another study gave",
    ),
    _site_element(
        "Location.address.country", "Location.address.country", lambda x: text((x.get("address") or {}).get("country"))
    ),
    _site_element(
        "Location.position",
        "Location.position",
        lambda x: (x["position"].get("latitude"), x["position"].get("longitude")) if x.get("position") else None,
    ),
    _site_telecom("phone"),
    _site_telecom("email"),
    Element(
        "ResearchStudy.contact.name",
        "ResearchStudy.contact.name (the central contacts)",
        lambda m: _contacts(m.study, None),
        lambda o: _contacts(o.study, None),
    ),
    Element(
        "ResearchStudy.contact.telecom (phone)",
        "ResearchStudy.contact.telecom (phone)",
        lambda m: _contacts(m.study, "phone"),
        lambda o: _contacts(o.study, "phone"),
        note=PHONE_EXTENSION,
    ),
    Element(
        "ResearchStudy.contact.telecom (email)",
        "ResearchStudy.contact.telecom (email)",
        lambda m: _contacts(m.study, "email"),
        lambda o: _contacts(o.study, "email"),
    ),
    *(
        Element(
            f"ResearchStudy.arm.{element}",
            f"ResearchStudy.arm.{element}" + (" (text: the API v2 value)" if element == "type" else ""),
            lambda m, e=element: _values(_arm(a, e) for a in m.study.get("arm", []) if e == "name" or a.get(e)),
            lambda o, e=element: _values(_arm(a, e) for a in o.study.get("arm", []) if e == "name" or a.get(e)),
        )
        for element in ("name", "type", "description")
    ),
    _plan_element(
        "title",
        "PlanDefinition.title (ResearchStudy.protocol, one PlanDefinition per intervention); also ResearchStudy.focus "
        "('<TYPE>: <name>')",
    ),
    _plan_element("type", "PlanDefinition.topic.text (the API v2 value); also ResearchStudy.focus"),
    _plan_element("description", "PlanDefinition.description"),
    _plan_element(
        "subtitle",
        "the intervention-other-name extension on PlanDefinition, one per other name",
        note="mCODE keeps only the first other name",
    ),
    _plan_element(
        "subjectCodeableConcept",
        "the intervention-arm extension on PlanDefinition, one per arm that gives the intervention",
        note="mCODE writes one PlanDefinition per intervention and arm",
    ),
]


@dataclass
class Coverage:
    """One element over all studies: how many studies have it and how many values, on each side, and the
    mCODE values trialport lacks (by NCT number)."""

    element: Element
    studies_mcode: int = 0
    studies_ours: int = 0
    values_mcode: int = 0
    values_ours: int = 0
    missing: dict[str, set] = field(default_factory=dict)


def coverage(mcode: dict[str, Resource], ours: dict[str, Resource]) -> list[Coverage]:
    """``ours``: every resource of trialport's NDJSON files by ``Type/id``."""
    studies = {nct: (McodeStudy(m), OurStudy(ours[f"ResearchStudy/{nct}"], ours)) for nct, m in mcode.items()}
    found = []
    for element in ELEMENTS:
        row = Coverage(element)
        for nct, (m, o) in studies.items():
            theirs, held = element.mcode(m), element.trialport(o)
            row.studies_mcode += bool(theirs)
            row.studies_ours += bool(held)
            row.values_mcode += len(theirs)
            row.values_ours += len(held)
            held |= {_without_extension(v) for v in held}
            if lacking := {v for v in theirs - held if not any(_holds(h, v) for h in held)}:
                row.missing[nct] = lacking
        found.append(row)
    return found


def _holds(held: Any, value: Any) -> bool:
    """``held`` has every part of mCODE's ``value`` that is not None (None: a part mCODE does not have, as
    a site with no state, which trialport's shared Location may know from another study)."""
    return (
        isinstance(value, tuple)
        and isinstance(held, tuple)
        and len(held) == len(value)
        and all(v is None or v == h for v, h in zip(value, held, strict=True))
    )


def _without_extension(value: Any) -> Any:
    """A value that ends in a phone with an extension, as the phone alone (what mCODE keeps of it)."""
    if isinstance(value, tuple) and value and isinstance(value[-1], str) and " ext. " in value[-1]:
        return (*value[:-1], value[-1].split(" ext. ")[0])
    return value


def markdown(rows: list[Coverage], version: str) -> str:
    lines = [
        "# trialport beside the mCODE converter: what each carries",
        "",
        "The 100 API v2 records of tests/data/ctgov/nsclc-v2-json, converted by the mCODE project's",
        "`createResearchStudyFromClinicalStudy` (npm clinical-trial-matching-service 0.1.2, FHIR R4) and by",
        f"trialport (FHIR {version}, NDJSON). Written by tests/test_mcode_comparison.py, which also asserts",
        "that trialport holds, study by study, every value mCODE holds. A value is one item of an element",
        "with what it belongs to (a site's postal code with the site's name and city); values are counted",
        "once per study. `not held`: mCODE values trialport does not carry.",
        "",
        "| element (mCODE) | studies mCODE | studies trialport | values mCODE | values trialport | not held |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        missing = sum(map(len, row.missing.values()))
        missing = missing if row.element.required else f"{missing} (not required)"
        lines.append(
            f"| {row.element.path} | {row.studies_mcode} | {row.studies_ours} | {row.values_mcode} | "
            f"{row.values_ours} | {missing} |"
        )
    lines += [
        "",
        "Where trialport carries each element:",
        "",
        "| element (mCODE) | in trialport | note |",
        "|---|---|---|",
    ]
    lines += [f"| {e.path} | {e.ours} | {e.note} |" for e in ELEMENTS]
    return "\n".join(lines) + "\n"
