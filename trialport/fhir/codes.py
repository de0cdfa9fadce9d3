"""Code systems and the maps from API v2 values to each FHIR version's codes."""

from __future__ import annotations

VERSIONS = ("R5", "R4B", "R4")

NCT_SYSTEM = "https://clinicaltrials.gov"
# Our own extensions, code systems and identifier systems: canonical URLs whose definitions ship as a
# FHIR package in trialport/fhir/package (StructureDefinitions, CodeSystems).
CANONICAL = "https://trialport.dev/fhir"
TIME_FRAME_EXTENSION = f"{CANONICAL}/StructureDefinition/outcome-time-frame"
SITE_STATUS_EXTENSION = f"{CANONICAL}/StructureDefinition/site-recruitment-status"
REFERENCE_TYPE_EXTENSION = f"{CANONICAL}/StructureDefinition/reference-type"
ELIGIBILITY_CRITERIA_EXTENSION = f"{CANONICAL}/StructureDefinition/eligibility-criteria"
RECRUITMENT_STATUS_SYSTEM = f"{CANONICAL}/CodeSystem/recruitment-status"  # API v2 site statuses
REFERENCE_TYPE_SYSTEM = f"{CANONICAL}/CodeSystem/reference-type"  # BACKGROUND, RESULT, DERIVED
ORGANIZATION_ID_SYSTEM = f"{CANONICAL}/sid/organization"
LOCATION_ID_SYSTEM = f"{CANONICAL}/sid/location"
PRACTITIONER_ID_SYSTEM = f"{CANONICAL}/sid/practitioner"
# HL7's cross-version extensions carry R5 elements in R4B.
XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy."

PHASE_SYSTEM = {
    "R5": "http://hl7.org/fhir/research-study-phase",
    "R4B": "http://terminology.hl7.org/CodeSystem/research-study-phase",
}
PURPOSE_SYSTEM = {
    "R5": "http://hl7.org/fhir/research-study-prim-purp-type",
    "R4B": "http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type",
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
