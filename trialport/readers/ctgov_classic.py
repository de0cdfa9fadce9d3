"""The retired classic API's ``FullStudiesResponse`` study (PascalCase, ``...List`` wrappers) in API v2 shape."""

from __future__ import annotations

from typing import Any


def _list(module: dict[str, Any], wrapper: str, item: str) -> list[Any]:
    return module.get(wrapper, {}).get(item, [])


def _mesh(module: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "meshes": [
            {"id": m.get(f"{prefix}MeshId"), "term": m.get(f"{prefix}MeshTerm")}
            for m in _list(module, f"{prefix}MeshList", f"{prefix}Mesh")
        ],
        "browseLeaves": [
            {"name": leaf.get(f"{prefix}BrowseLeafName"), "asFound": leaf.get(f"{prefix}BrowseLeafAsFound")}
            for leaf in _list(module, f"{prefix}BrowseLeafList", f"{prefix}BrowseLeaf")
        ],
    }


def _outcomes(module: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        {
            "measure": o.get(f"{kind}OutcomeMeasure"),
            "description": o.get(f"{kind}OutcomeDescription"),
            "timeFrame": o.get(f"{kind}OutcomeTimeFrame"),
        }
        for o in _list(module, f"{kind}OutcomeList", f"{kind}Outcome")
    ]


def _contact(contact: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A central (``CentralContact``) or site (``LocationContact``) contact."""
    return {
        "name": contact.get(f"{prefix}Name"),
        "role": contact.get(f"{prefix}Role"),
        "phone": contact.get(f"{prefix}Phone"),
        "phoneExt": contact.get(f"{prefix}PhoneExt"),
        "email": contact.get(f"{prefix}EMail"),
    }


def _location(site: dict[str, Any]) -> dict[str, Any]:
    """A site; the classic API has no geo point."""
    return {
        "facility": site.get("LocationFacility"),
        "status": site.get("LocationStatus"),
        "city": site.get("LocationCity"),
        "state": site.get("LocationState"),
        "zip": site.get("LocationZip"),
        "country": site.get("LocationCountry"),
        "contacts": [_contact(c, "LocationContact") for c in _list(site, "LocationContactList", "LocationContact")],
    }


def _first(module: dict[str, Any], wrapper: str, item: str) -> Any:
    """The one value of a classic list that API v2 holds as a single value (observational model, time perspective)."""
    values = _list(module, wrapper, item)
    return values[0] if values else None


def to_v2(study: dict[str, Any]) -> dict[str, Any]:
    """A classic ``Study`` object (``ProtocolSection``, ``DerivedSection``) as an API v2 study."""
    p = study.get("ProtocolSection")
    if not isinstance(p, dict):
        raise ValueError("no ProtocolSection")
    ident = p.get("IdentificationModule", {})
    status = p.get("StatusModule", {})
    sponsors = p.get("SponsorCollaboratorsModule", {})
    description = p.get("DescriptionModule", {})
    conditions = p.get("ConditionsModule", {})
    design = p.get("DesignModule", {})
    info = design.get("DesignInfo", {})
    arms = p.get("ArmsInterventionsModule", {})
    outcomes = p.get("OutcomesModule", {})
    eligibility = p.get("EligibilityModule", {})
    places = p.get("ContactsLocationsModule", {})
    references = p.get("ReferencesModule", {})
    derived = study.get("DerivedSection", {})

    def date(key: str) -> dict[str, Any]:
        return {"date": status.get(f"{key}DateStruct", {}).get(f"{key}Date")}

    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": ident.get("NCTId"),
                "orgStudyIdInfo": {"id": ident.get("OrgStudyIdInfo", {}).get("OrgStudyId")},
                "organization": {"fullName": ident.get("Organization", {}).get("OrgFullName")},
                "secondaryIdInfos": [
                    {"id": s.get("SecondaryId"), "type": s.get("SecondaryIdType"), "domain": s.get("SecondaryIdDomain")}
                    for s in _list(ident, "SecondaryIdInfoList", "SecondaryIdInfo")
                ],
                "briefTitle": ident.get("BriefTitle"),
                "officialTitle": ident.get("OfficialTitle"),
                "acronym": ident.get("Acronym"),
            },
            "statusModule": {
                "overallStatus": status.get("OverallStatus"),
                "startDateStruct": date("Start"),
                "primaryCompletionDateStruct": date("PrimaryCompletion"),
                "completionDateStruct": date("Completion"),
                "studyFirstPostDateStruct": date("StudyFirstPost"),
                "lastUpdatePostDateStruct": date("LastUpdatePost"),
                "whyStopped": status.get("WhyStopped"),
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": sponsors.get("LeadSponsor", {}).get("LeadSponsorName")},
                "collaborators": [
                    {"name": c.get("CollaboratorName")} for c in _list(sponsors, "CollaboratorList", "Collaborator")
                ],
            },
            "descriptionModule": {
                "briefSummary": description.get("BriefSummary"),
                "detailedDescription": description.get("DetailedDescription"),
            },
            "conditionsModule": {
                "conditions": _list(conditions, "ConditionList", "Condition"),
                "keywords": _list(conditions, "KeywordList", "Keyword"),
            },
            "designModule": {
                "studyType": design.get("StudyType"),
                "phases": _list(design, "PhaseList", "Phase"),
                "designInfo": {
                    "allocation": info.get("DesignAllocation"),
                    "interventionModel": info.get("DesignInterventionModel"),
                    "primaryPurpose": info.get("DesignPrimaryPurpose"),
                    "maskingInfo": {"masking": info.get("DesignMaskingInfo", {}).get("DesignMasking")},
                    "observationalModel": _first(info, "DesignObservationalModelList", "DesignObservationalModel"),
                    "timePerspective": _first(info, "DesignTimePerspectiveList", "DesignTimePerspective"),
                },
                "enrollmentInfo": {
                    "count": design.get("EnrollmentInfo", {}).get("EnrollmentCount"),
                    "type": design.get("EnrollmentInfo", {}).get("EnrollmentType"),
                },
            },
            "armsInterventionsModule": {
                "armGroups": [
                    {
                        "label": a.get("ArmGroupLabel"),
                        "type": a.get("ArmGroupType"),
                        "description": a.get("ArmGroupDescription"),
                        "interventionNames": _list(a, "ArmGroupInterventionList", "ArmGroupInterventionName"),
                    }
                    for a in _list(arms, "ArmGroupList", "ArmGroup")
                ],
                "interventions": [
                    {
                        "type": i.get("InterventionType"),
                        "name": i.get("InterventionName"),
                        "description": i.get("InterventionDescription"),
                        "otherNames": _list(i, "InterventionOtherNameList", "InterventionOtherName"),
                        "armGroupLabels": _list(i, "InterventionArmGroupLabelList", "InterventionArmGroupLabel"),
                    }
                    for i in _list(arms, "InterventionList", "Intervention")
                ],
            },
            "outcomesModule": {
                "primaryOutcomes": _outcomes(outcomes, "Primary"),
                "secondaryOutcomes": _outcomes(outcomes, "Secondary"),
                "otherOutcomes": _outcomes(outcomes, "Other"),
            },
            "eligibilityModule": {
                "eligibilityCriteria": eligibility.get("EligibilityCriteria"),
                "sex": eligibility.get("Gender"),
                "minimumAge": eligibility.get("MinimumAge"),
                "maximumAge": eligibility.get("MaximumAge"),
                "healthyVolunteers": eligibility.get("HealthyVolunteers"),
                "stdAges": _list(eligibility, "StdAgeList", "StdAge"),
                "studyPopulation": eligibility.get("StudyPopulation"),
                "samplingMethod": eligibility.get("SamplingMethod"),
            },
            "contactsLocationsModule": {
                "locations": [_location(site) for site in _list(places, "LocationList", "Location")],
                "centralContacts": [
                    _contact(c, "CentralContact") for c in _list(places, "CentralContactList", "CentralContact")
                ],
                "overallOfficials": [
                    {
                        "name": o.get("OverallOfficialName"),
                        "affiliation": o.get("OverallOfficialAffiliation"),
                        "role": o.get("OverallOfficialRole"),
                    }
                    for o in _list(places, "OverallOfficialList", "OverallOfficial")
                ],
            },
            "referencesModule": {
                "references": [
                    {
                        "pmid": r.get("ReferencePMID"),
                        "type": r.get("ReferenceType"),
                        "citation": r.get("ReferenceCitation"),
                    }
                    for r in _list(references, "ReferenceList", "Reference")
                ],
                "seeAlsoLinks": [
                    {"label": link.get("SeeAlsoLinkLabel"), "url": link.get("SeeAlsoLinkURL")}
                    for link in _list(references, "SeeAlsoLinkList", "SeeAlsoLink")
                ],
            },
        },
        "derivedSection": {
            "conditionBrowseModule": _mesh(derived.get("ConditionBrowseModule", {}), "Condition"),
            "interventionBrowseModule": _mesh(derived.get("InterventionBrowseModule", {}), "Intervention"),
        },
    }
