"""Code systems and the maps from API v2 values to each FHIR version's codes."""

from __future__ import annotations

VERSIONS = ("R5", "R4B", "R4")

NCT_SYSTEM = "https://clinicaltrials.gov"
# Our own extensions, code systems and identifier systems: canonical URLs whose definitions ship as a
# FHIR package in trialport/fhir/package (StructureDefinitions, CodeSystems).
CANONICAL = "https://trialport.dev/fhir"
TIME_FRAME_EXTENSION = f"{CANONICAL}/StructureDefinition/outcome-time-frame"
SITE_STATUS_EXTENSION = f"{CANONICAL}/StructureDefinition/site-recruitment-status"
# valueString on ResearchStudy.site: the site's postal code as this study gives it (one shared Location
# per facility, city, state and country cannot hold every study's postal code)
SITE_POSTAL_CODE_EXTENSION = f"{CANONICAL}/StructureDefinition/site-postal-code"
REFERENCE_TYPE_EXTENSION = f"{CANONICAL}/StructureDefinition/reference-type"
ELIGIBILITY_CRITERIA_EXTENSION = f"{CANONICAL}/StructureDefinition/eligibility-criteria"
# valueString on PlanDefinition, repeatable: the intervention's other names, and the arms that give it
INTERVENTION_OTHER_NAME_EXTENSION = f"{CANONICAL}/StructureDefinition/intervention-other-name"
INTERVENTION_ARM_EXTENSION = f"{CANONICAL}/StructureDefinition/intervention-arm"
RECRUITMENT_STATUS_SYSTEM = f"{CANONICAL}/CodeSystem/recruitment-status"  # API v2 site statuses
REFERENCE_TYPE_SYSTEM = f"{CANONICAL}/CodeSystem/reference-type"  # BACKGROUND, RESULT, DERIVED
# Group.characteristic.code of one eligibility criterion as text (its value): LOINC and SNOMED CT have no
# concept for a protocol's free-text criterion, and NCIt's Inclusion Criteria (C25532) / Exclusion Criteria
# (C25370) would say again what Group.characteristic.exclude says
ELIGIBILITY_CHARACTERISTIC_SYSTEM = f"{CANONICAL}/CodeSystem/eligibility-characteristic"
CRITERION_CODE, CRITERION_DISPLAY = "criterion", "Eligibility criterion"
# Group.characteristic.code of the age limits and of the sex the study takes (LOINC: free to use)
LOINC = "http://loinc.org"
AGE_CODE, AGE_DISPLAY = "30525-0", "Age"
SEX_CODE, SEX_DISPLAY = "46098-0", "Sex"
UCUM_SYSTEM = "http://unitsofmeasure.org"
GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"  # the same URL in R4, R4B and R5
GENDERS = {"FEMALE": ("female", "Female"), "MALE": ("male", "Male")}  # API v2 sex → code, display; ALL: none
ORGANIZATION_ID_SYSTEM = f"{CANONICAL}/sid/organization"
LOCATION_ID_SYSTEM = f"{CANONICAL}/sid/location"
PRACTITIONER_ID_SYSTEM = f"{CANONICAL}/sid/practitioner"
PRACTITIONER_ROLE_ID_SYSTEM = f"{CANONICAL}/sid/practitioner-role"
GROUP_ID_SYSTEM = f"{CANONICAL}/sid/group"
PLAN_ID_SYSTEM = f"{CANONICAL}/sid/plan"
GROUP_ID_PREFIX = "elig-"
PLAN_ID_PREFIX = "plan-"
# PlanDefinition.type (extensible binding in R4, R4B and R5): an intervention is a clinical protocol
PLAN_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"  # + PMID + "/"
# Elements only R4 / R4B ResearchStudy has (R5 renamed or moved them): how a study shows its version
R4_ONLY_ELEMENTS = (
    "sponsor",
    "arm",
    "category",
    "contact",
    "location",
    "enrollment",
    "principalInvestigator",
    "reasonStopped",
)
# HL7's cross-version extensions carry R5 elements in R4 and R4B.
XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy."

PHASE_SYSTEM = {
    "R5": "http://hl7.org/fhir/research-study-phase",
    "R4B": "http://terminology.hl7.org/CodeSystem/research-study-phase",
    "R4": "http://terminology.hl7.org/CodeSystem/research-study-phase",
}
PURPOSE_SYSTEM = {
    "R5": "http://hl7.org/fhir/research-study-prim-purp-type",
    "R4B": "http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type",
    "R4": "http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type",
}
STATE_SYSTEM = "http://hl7.org/fhir/research-study-status"
OBJECTIVE_TYPE_SYSTEM = "http://hl7.org/fhir/research-study-objective-type"
PARTY_ROLE_SYSTEM = "http://hl7.org/fhir/research-study-party-role"
TITLE_TYPE_SYSTEM = "http://hl7.org/fhir/title-type"
FOCUS_TYPE_SYSTEM = "http://hl7.org/fhir/research-study-focus-type"
CELL_THERAPY_SYSTEM = f"{CANONICAL}/CodeSystem/cell-therapy"  # CAR-T / CAR-NK, as the mapping names them
ISO3166_SYSTEM = "urn:iso:std:iso:3166"

# Several API v2 phases make one FHIR phase.
PHASES = {
    ("EARLY_PHASE1",): "early-phase-1",
    ("PHASE1",): "phase-1",
    ("PHASE1", "PHASE2"): "phase-1-phase-2",
    ("PHASE2",): "phase-2",
    ("PHASE2", "PHASE3"): "phase-2-phase-3",
    ("PHASE3",): "phase-3",
    ("PHASE4",): "phase-4",
    ("NA",): "n-a",
}
PURPOSES = {
    "TREATMENT": "treatment",
    "PREVENTION": "prevention",
    "DIAGNOSTIC": "diagnostic",
    "SUPPORTIVE_CARE": "supportive-care",
    "SCREENING": "screening",
    "HEALTH_SERVICES_RESEARCH": "health-services-research",
    "BASIC_SCIENCE": "basic-science",
    "DEVICE_FEASIBILITY": "device-feasibility",
}
# R5 progressStatus.state
STATES = {
    "RECRUITING": "recruiting",
    "NOT_YET_RECRUITING": "not-yet-recruiting",
    "ACTIVE_NOT_RECRUITING": "active-but-not-recruiting",
    "ENROLLING_BY_INVITATION": "enrolling-by-invitation",
    "COMPLETED": "completed",
    "TERMINATED": "terminated",
    "WITHDRAWN": "withdrawn",
    "SUSPENDED": "temporarily-closed-to-accrual",
}
# R4B status (required, no "unknown"): the nearest code; the registry's own value goes in an extension.
R4B_STATUS = {
    "RECRUITING": "active",
    "ENROLLING_BY_INVITATION": "active",
    "NOT_YET_RECRUITING": "approved",
    "ACTIVE_NOT_RECRUITING": "closed-to-accrual",
    "COMPLETED": "completed",
    "TERMINATED": "administratively-completed",
    "WITHDRAWN": "withdrawn",
    "SUSPENDED": "temporarily-closed-to-accrual",
}
OUTCOME_TYPES = {"primary": "primary", "secondary": "secondary", "other": "exploratory"}

# research-study-party-role codes for the people of a study (API v2 roles). Central contacts are all
# recruitment-contact: the registry names them for questions about enrolment at any site.
OFFICIAL_ROLES = {
    "PRINCIPAL_INVESTIGATOR": "primary-investigator",
    "STUDY_DIRECTOR": "study-director",
    "STUDY_CHAIR": "study-chair",
    "SUB_INVESTIGATOR": "sub-investigator",
}
SITE_CONTACT_ROLES = {**OFFICIAL_ROLES, "CONTACT": "recruitment-contact"}
CONTACT_ROLE = "recruitment-contact"
# Element ids of a study's people: the reader tells central contacts, officials and each site's
# contacts apart by them (and the site by its number), whether or not the PractitionerRoles are at hand.
CONTACT_ELEMENT = "contact-"  # + n
OFFICIAL_ELEMENT = "official-"  # + n
SITE_CONTACT_ELEMENT = "site-"  # + site number + "-contact-" + n
# Displays of our code systems' codes (as the CodeSystems in trialport/fhir/package give them)
RECRUITMENT_STATUS_DISPLAY = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
    "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
}
REFERENCE_TYPE_DISPLAY = {"BACKGROUND": "Background", "RESULT": "Result", "DERIVED": "Derived"}
