"""The canonical model as FHIR resources: plain dicts on the hot path (fhir.resources checks them in
tests and under ``--validate``). One ResearchStudy per trial, plus what it refers to
(``fhir.referenced``): Organizations, Locations, Practitioners, PractitionerRoles, the eligibility
Group; and a PlanDefinition per intervention (``fhir.plans``). R4 and R4B ResearchStudy have the same
elements: one builder makes both."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from trialport.fhir.codes import (
    CELL_THERAPY_SYSTEM,
    CONTACT_ELEMENT,
    FOCUS_TYPE_SYSTEM,
    ISO3166_SYSTEM,
    NCT_SYSTEM,
    OBJECTIVE_TYPE_SYSTEM,
    OFFICIAL_ELEMENT,
    OUTCOME_TYPES,
    PARTY_ROLE_SYSTEM,
    PHASE_SYSTEM,
    PHASES,
    PUBMED,
    PURPOSE_SYSTEM,
    PURPOSES,
    R4B_STATUS,
    RECRUITMENT_STATUS_DISPLAY,
    RECRUITMENT_STATUS_SYSTEM,
    REFERENCE_TYPE_DISPLAY,
    REFERENCE_TYPE_EXTENSION,
    REFERENCE_TYPE_SYSTEM,
    SITE_POSTAL_CODE_EXTENSION,
    SITE_STATUS_EXTENSION,
    STATE_SYSTEM,
    STATES,
    TIME_FRAME_EXTENSION,
    TITLE_TYPE_SYSTEM,
    XVER,
)
from trialport.fhir.plans import plan_definitions, plan_ids, protocol
from trialport.fhir.referenced import (
    Person,
    eligibility_group,
    group_id,
    has_eligibility_group,
    location,
    location_id,
    organization,
    organization_id,
    people,
    practitioner,
    practitioner_role,
    telecom,
)
from trialport.mapping.countries import country
from trialport.mapping.terminology import intervention_types
from trialport.model import Coding, Design, Outcome, Trial

Resource = dict[str, Any]


class _Parts(NamedTuple):
    """What the ResearchStudy of every version and its referenced resources are made of, worked out once."""

    site_ids: list[str]
    people: list[Person]
    plan_ids: list[str]


def _parts(trial: Trial) -> _Parts:
    site_ids = [location_id(s.facility, s.city, s.state, s.country) for s in trial.locations]
    return _Parts(site_ids, people(trial, site_ids), plan_ids(trial))


def resources(trial: Trial, version: str) -> list[Resource]:
    """The ResearchStudy of ``trial`` in ``version`` (R5, R4B or R4), then every resource it refers to
    (Organizations, Locations, Practitioners, PractitionerRoles, the eligibility Group, the
    interventions' PlanDefinitions), each once."""
    return all_versions(trial, (version,))[version]


def all_versions(trial: Trial, versions: tuple[str, ...]) -> dict[str, list[Resource]]:
    """``resources`` for several versions, sharing the work: Organizations, Locations, Practitioners and
    PlanDefinitions are the same objects in every version, and R4 is the same resources as R4B."""
    parts = _parts(trial)
    r5 = research_study_r5(trial, parts)
    common = _common(trial, parts)
    plans = plan_definitions(trial, parts.plan_ids)
    found: dict[str, list[Resource]] = {}
    for version in versions:
        if version == "R5":
            found[version] = [r5, *common, *_own(trial, parts, "R5"), *plans]
        elif "R4B" in found or "R4" in found:
            found[version] = found["R4B" if "R4B" in found else "R4"]
        else:
            found[version] = [research_study_r4b(trial, parts, r5), *common, *_own(trial, parts, version), *plans]
    return found


def _common(trial: Trial, parts: _Parts) -> list[Resource]:
    """Organizations, Locations, Practitioners (the same in every version), each once."""
    names: dict[str, str] = {}  # id → the first spelling (the id folds case)
    for name in [trial.sponsor, *trial.collaborators, *(p.affiliation for p in parts.people)]:
        if name:
            names.setdefault(organization_id(name), name)
    found = [organization(name) for name in names.values()]
    sites: dict[str, Resource] = {}
    for site, lid in zip(trial.locations, parts.site_ids, strict=True):
        if lid not in sites:
            sites[lid] = location(site, lid)
    found += sites.values()
    practitioners: dict[str, Resource] = {}
    for person in parts.people:
        if person.practitioner and person.practitioner not in practitioners:
            practitioners[person.practitioner] = practitioner(person)
    return found + list(practitioners.values())


def _own(trial: Trial, parts: _Parts, version: str) -> list[Resource]:
    """PractitionerRoles and the eligibility Group, which differ between R5 and R4 / R4B."""
    roles: dict[str, Resource] = {}
    for person in parts.people:
        if person.id not in roles:
            roles[person.id] = practitioner_role(person, version)
    found = list(roles.values())
    if group := eligibility_group(trial, version):
        found.append(group)
    return found


# The builders below write each dict out in full rather than through small helpers, and leave out an
# empty element as they go (where _drop_empty would filter it after): this runs once a trial, and
# the output is the same, key for key and in the same order.


def _coding(c: Coding) -> dict[str, str]:
    """system, code and display, each when not empty."""
    coding = {}
    if c.system:
        coding["system"] = c.system
    if c.code:
        coding["code"] = c.code
    if c.display:
        coding["display"] = c.display
    return coding


def _concept(text: str | None = None, codings: list[dict[str, str]] | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept


def _identifiers(trial: Trial) -> list[dict[str, Any]]:
    found = []
    for identifier in trial.identifiers:
        if identifier.type == "NCT":
            entry: dict[str, Any] = {"value": identifier.value, "system": NCT_SYSTEM, "use": "official"}
        else:
            entry = {"value": identifier.value}
            if identifier.type:
                entry["type"] = {"text": identifier.type}
            if identifier.system:
                entry["assigner"] = {"display": identifier.system}
        found.append(entry)
    return found


def _phase(trial: Trial, version: str) -> dict[str, Any] | None:
    code = PHASES.get(tuple(trial.phases))
    if not code:
        return _concept(", ".join(trial.phases)) if trial.phases else None
    return _concept(", ".join(trial.phases), [{"system": PHASE_SYSTEM[version], "code": code}])


def _purpose(trial: Trial, version: str) -> dict[str, Any] | None:
    purpose = trial.design.primary_purpose if trial.design else None
    if not purpose:
        return None
    code = PURPOSES.get(purpose)
    return _concept(purpose, [{"system": PURPOSE_SYSTEM[version], "code": code}] if code else None)


def _period(trial: Trial) -> dict[str, str] | None:
    dates = trial.dates
    period = {}
    if dates.start:
        period["start"] = dates.start
    if dates.completion:
        period["end"] = dates.completion
    return period or None


# "allocation: RANDOMIZED": each design field's label, in the model's field order
_DESIGN_LABELS = tuple((name, name.replace("_", " ")) for name in Design.model_fields)


def _design(trial: Trial) -> list[dict[str, Any]]:
    """Study type and design as text concepts ("allocation: RANDOMIZED"), read back by ``fhir.read``."""
    found = [{"text": f"study type: {trial.study_type}"}] if trial.study_type else []
    design = trial.design
    if design:
        for name, label in _DESIGN_LABELS:
            if value := getattr(design, name):
                found.append({"text": f"{label}: {value}"})
    return found


def _focus_concept(intervention) -> dict[str, Any]:
    text = f"{intervention.type}: {intervention.name}" if intervention.type else intervention.name
    return _concept(text, [_coding(c) for c in intervention.codes + intervention.targets] or None)


def cell_therapy_concepts(trial: Trial) -> list[dict[str, Any]]:
    """CAR features as coded concepts (classifier in R5, keyword in R4B); ``fhir.read`` leaves them out
    of the keywords, since the mapping derives them again."""
    if not trial.cell_therapy:
        return []
    modality = trial.cell_therapy.modality
    concepts = [_concept(modality, [{"system": CELL_THERAPY_SYSTEM, "code": modality}])] if modality else []
    return concepts + [_concept(c.display, [_coding(c)]) for c in trial.cell_therapy.targets]


def _drop_empty(resource: Resource) -> Resource:
    return {k: v for k, v in resource.items() if v or v not in (None, [], {}, "")}


def _arm(arm) -> dict[str, Any]:
    group: dict[str, Any] = {}
    if arm.label:
        group["name"] = arm.label
    if arm.type:
        group["type"] = {"text": arm.type}
    if arm.description:
        group["description"] = arm.description
    return group


def _outcome(outcome: Outcome) -> dict[str, Any]:
    measure: dict[str, Any] = {}
    if outcome.time_frame:
        measure["extension"] = [{"url": TIME_FRAME_EXTENSION, "valueString": outcome.time_frame.text}]
    if outcome.measure:
        measure["name"] = outcome.measure
    measure["type"] = [{"coding": [{"system": OBJECTIVE_TYPE_SYSTEM, "code": OUTCOME_TYPES[outcome.kind]}]}]
    if outcome.description:
        measure["description"] = outcome.description
    return measure


def _site_refs(trial: Trial, site_ids: list[str]) -> list[dict[str, Any]]:
    """Each site: its Location, with what is this study's own: the site's status and postal code, and
    the facility's name as this study writes it (``display``)."""
    refs = []
    for site, lid in zip(trial.locations, site_ids, strict=True):
        extensions = []
        if site.status:
            extensions.append(
                {"url": SITE_STATUS_EXTENSION, "valueCoding": _our_coding(RECRUITMENT_STATUS_SYSTEM, site.status)}
            )
        if site.zip:
            extensions.append({"url": SITE_POSTAL_CODE_EXTENSION, "valueString": site.zip})
        ref: dict[str, Any] = {"extension": extensions} if extensions else {}
        ref["reference"] = f"Location/{lid}"
        if site.facility:
            ref["display"] = site.facility
        refs.append(ref)
    return refs


@lru_cache(maxsize=128)
def _our_coding(system: str, code: str) -> dict[str, str]:
    """A coding of one of our code systems, with the display the package gives the code."""
    coding = {"system": system, "code": code}
    if display := _DISPLAYS[system].get(code):
        coding["display"] = display
    return coding


_DISPLAYS = {RECRUITMENT_STATUS_SYSTEM: RECRUITMENT_STATUS_DISPLAY, REFERENCE_TYPE_SYSTEM: REFERENCE_TYPE_DISPLAY}


def _regions(trial: Trial) -> list[dict[str, Any]]:
    """The sites' countries, each once: ISO 3166-1 alpha-2 where the table knows the name, text always."""
    found, names, codes = [], set(), set()
    for site in trial.locations:
        name = site.country
        if not name or name in names:
            continue
        names.add(name)
        iso = country(name)
        if iso is None:
            found.append({"text": name})
        elif iso.alpha2 not in codes:
            codes.add(iso.alpha2)
            found.append(
                {"coding": [{"system": ISO3166_SYSTEM, "code": iso.alpha2, "display": iso.name}], "text": name}
            )
    return found


def _party(person: Person) -> dict[str, Any]:
    """A person as an associatedParty (R5 shape); ``id`` says which of the study's people it is."""
    party: dict[str, Any] = {"id": person.element}
    if person.name:
        party["name"] = person.name
    if person.code:
        party["role"] = {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": person.code}]}
    else:
        party["role"] = {"text": person.role or "official"}
    reference = {"reference": f"PractitionerRole/{person.id}"}
    if person.name:
        reference["display"] = person.name
    party["party"] = reference
    return party


def _artifacts_r5(trial: Trial) -> list[dict[str, Any]]:
    """References (citation; BACKGROUND/RESULT/DERIVED as classifier; a PMID as its PubMed page in
    ``document.url``, R5 RelatedArtifact having no ``url``) and the registry's links (documentation)."""
    found = []
    for reference in trial.references:
        artifact: dict[str, Any] = {"type": "citation"}
        if reference.type:
            artifact["classifier"] = [{"coding": [_our_coding(REFERENCE_TYPE_SYSTEM, reference.type)]}]
        if reference.citation:
            artifact["citation"] = reference.citation
        if reference.pmid:
            artifact["document"] = {"url": f"{PUBMED}{reference.pmid}/"}
        found.append(artifact)
    for link in trial.links:
        artifact = {"type": "documentation"}
        if link.label:
            artifact["display"] = link.label
        artifact["document"] = {"url": link.url}
        found.append(artifact)
    return found


def _artifacts_r4(trial: Trial) -> list[dict[str, Any]]:
    """The same in R4 / R4B: ``url``, and the reference type in our reference-type extension."""
    found = []
    for reference in trial.references:
        artifact: dict[str, Any] = {}
        if reference.type:
            artifact["extension"] = [
                {"url": REFERENCE_TYPE_EXTENSION, "valueCoding": _our_coding(REFERENCE_TYPE_SYSTEM, reference.type)}
            ]
        artifact["type"] = "citation"
        if reference.citation:
            artifact["citation"] = reference.citation
        if reference.pmid:
            artifact["url"] = f"{PUBMED}{reference.pmid}/"
        found.append(artifact)
    for link in trial.links:
        artifact = {"type": "documentation"}
        if link.label:
            artifact["display"] = link.label
        artifact["url"] = link.url
        found.append(artifact)
    return found


def research_study_r5(trial: Trial, parts: _Parts | None = None) -> Resource:
    # Every element is a str, list or dict (or None), so "not empty" is plain truth.
    parts = parts or _parts(trial)
    study: Resource = {"resourceType": "ResearchStudy"}
    if trial.id:
        study["id"] = trial.id
    if trial.identifiers:
        study["identifier"] = _identifiers(trial)
    if trial.title:
        study["title"] = trial.title
    labels = []
    if trial.official_title:
        labels.append(
            {"type": {"coding": [{"system": TITLE_TYPE_SYSTEM, "code": "official"}]}, "value": trial.official_title}
        )
    if trial.acronym:
        labels.append({"type": {"coding": [{"system": TITLE_TYPE_SYSTEM, "code": "acronym"}]}, "value": trial.acronym})
    if labels:
        study["label"] = labels
    if parts.plan_ids:
        study["protocol"] = protocol(trial, parts.plan_ids)
    if trial.references or trial.links:
        study["relatedArtifact"] = _artifacts_r5(trial)
    study["status"] = "active"
    if trial.brief_summary:
        study["descriptionSummary"] = trial.brief_summary
    if trial.detailed_description:
        study["description"] = trial.detailed_description
    if trial.conditions:
        study["condition"] = [_concept(c.name, [_coding(x) for x in c.codes]) for c in trial.conditions]
    if trial.keywords:
        study["keyword"] = [{"text": k} if k else {} for k in trial.keywords]
    if trial.locations and (regions := _regions(trial)):
        study["region"] = regions
    if trial.interventions:
        study["focus"] = [{"concept": _focus_concept(i)} for i in trial.interventions]
    if phase := _phase(trial, "R5"):
        study["phase"] = phase
    if purpose := _purpose(trial, "R5"):
        study["primaryPurposeType"] = purpose
    if design := _design(trial):
        study["studyDesign"] = design
    types = intervention_types()
    classifier = [
        {"coding": [{"system": FOCUS_TYPE_SYSTEM, "code": code}]}
        for code in dict.fromkeys(types[i.type]["fhir_focus_code"] for i in trial.interventions if i.type in types)
    ]
    if trial.cell_therapy:
        classifier += cell_therapy_concepts(trial)
    if classifier:
        study["classifier"] = classifier
    state = STATES.get(trial.status or "")
    if state:
        study["progressStatus"] = [
            {"state": _concept(trial.status, [{"system": STATE_SYSTEM, "code": state}]), "actual": True}
        ]
    if trial.why_stopped:
        study["whyStopped"] = {"text": trial.why_stopped}
    recruitment = _recruitment(trial)
    if has_eligibility_group(trial):
        recruitment["eligibility"] = {"reference": f"Group/{group_id(trial)}"}
    if recruitment:
        study["recruitment"] = recruitment
    if period := _period(trial):
        study["period"] = period
    if trial.locations:
        study["site"] = _site_refs(trial, parts.site_ids)
    parties = [("lead-sponsor", trial.sponsor)] if trial.sponsor else []
    parties += [("collaborator", c) for c in trial.collaborators if c]
    if parties or parts.people:
        study["associatedParty"] = [
            {
                "name": name,
                "role": {"coding": [{"system": PARTY_ROLE_SYSTEM, "code": role}]},
                "party": {"reference": f"Organization/{organization_id(name)}", "display": name},
            }
            for role, name in parties
        ] + [_party(person) for person in parts.people]
    if trial.arms:
        study["comparisonGroup"] = [_arm(a) for a in trial.arms]
    if trial.outcomes:
        study["outcomeMeasure"] = [_outcome(o) for o in trial.outcomes]
    return study


def _recruitment(trial: Trial) -> dict[str, Any]:
    enrollment = trial.enrollment
    if enrollment and enrollment.count is not None:
        return {("actualNumber" if enrollment.type == "ACTUAL" else "targetNumber"): enrollment.count}
    return {}


def research_study_r4b(trial: Trial, parts: _Parts | None = None, r5: Resource | None = None) -> Resource:
    """R4 and R4B have no label, descriptionSummary, outcomeMeasure, recruitment, associatedParty or
    progress states: those travel in HL7's cross-version extensions for the R5 elements, so nothing is
    dropped. Every person is in the associatedParty extension (as in R5); the first principal
    investigator is also ``principalInvestigator``, and central contacts also ``contact``."""
    parts = parts or _parts(trial)
    r5 = r5 or research_study_r5(trial, parts)
    extensions = []
    for label in r5.get("label", []):
        extensions.append(
            {
                "url": XVER + "label",
                "extension": [
                    {"url": "type", "valueCodeableConcept": label["type"]},
                    {"url": "value", "valueString": label["value"]},
                ],
            }
        )
    if trial.brief_summary and trial.detailed_description:
        # with no detailed description, the summary is the description itself (and this extension absent)
        extensions.append({"url": XVER + "descriptionSummary", "valueMarkdown": trial.brief_summary})
    for outcome in r5.get("outcomeMeasure", []):
        parts_of = [{"url": "name", "valueString": outcome["name"]}]
        parts_of += [{"url": "type", "valueCodeableConcept": t} for t in outcome.get("type", [])]
        if "description" in outcome:
            parts_of.append({"url": "description", "valueMarkdown": outcome["description"]})
        extensions.append({"url": XVER + "outcomeMeasure", "extension": parts_of + outcome.get("extension", [])})
    if recruitment := _recruitment(trial):
        ((key, number),) = recruitment.items()
        extensions.append({"url": XVER + "recruitment", "extension": [{"url": key, "valueUnsignedInt": number}]})
    for party in r5.get("associatedParty", []):
        extension: dict[str, Any] = {"url": XVER + "associatedParty"}
        if "id" in party:
            extension["id"] = party["id"]
        extension["extension"] = [
            *([{"url": "name", "valueString": party["name"]}] if "name" in party else []),
            {"url": "role", "valueCodeableConcept": party["role"]},
            {"url": "party", "valueReference": party["party"]},
        ]
        extensions.append(extension)
    for progress in r5.get("progressStatus", []):
        extensions.append(
            {
                "url": XVER + "progressStatus",
                "extension": [
                    {"url": "state", "valueCodeableConcept": progress["state"]},
                    {"url": "actual", "valueBoolean": True},
                ],
            }
        )
    status = R4B_STATUS.get(trial.status or "", "active" if not trial.status else "closed-to-accrual")
    sponsor = next(
        (
            p["party"]
            for p in r5.get("associatedParty", [])
            if p["role"].get("coding", [{}])[0].get("code") == "lead-sponsor"
        ),
        None,
    )
    investigator = next(
        (
            {"reference": f"PractitionerRole/{p.id}", "display": p.name}
            for p in parts.people
            if p.role == "PRINCIPAL_INVESTIGATOR" and p.element.startswith(OFFICIAL_ELEMENT)
        ),
        None,
    )
    contacts = []
    for person in parts.people:
        if person.element.startswith(CONTACT_ELEMENT):
            detail: dict[str, Any] = {"name": person.name} if person.name else {}
            if numbers := telecom(person):
                detail["telecom"] = numbers
            contacts.append(detail)
    return _drop_empty(
        {
            "resourceType": "ResearchStudy",
            "id": trial.id,
            "extension": extensions,
            "identifier": r5.get("identifier"),
            "title": trial.title,
            "protocol": r5.get("protocol"),
            "status": status,
            "primaryPurposeType": _purpose(trial, "R4B"),
            "phase": _phase(trial, "R4B"),
            "category": r5.get("studyDesign"),
            "focus": [f["concept"] for f in r5.get("focus", [])],
            "condition": r5.get("condition"),
            "contact": contacts,
            "relatedArtifact": _artifacts_r4(trial),
            "keyword": [*r5.get("keyword", []), *cell_therapy_concepts(trial)],
            "location": r5.get("region"),
            "description": trial.detailed_description or trial.brief_summary,
            "enrollment": [{"reference": f"Group/{group_id(trial)}"}] if has_eligibility_group(trial) else None,
            "period": r5.get("period"),
            "sponsor": sponsor,
            "principalInvestigator": investigator,
            "site": r5.get("site"),
            "reasonStopped": {"text": trial.why_stopped} if trial.why_stopped else None,
            "arm": [_arm(a) for a in trial.arms],
        }
    )
