"""The TS (Trial Summary) rows of one trial: every parameter the record can fill, none invented.

A parameter the SDTMIG expects but the record does not give gets a null flavour in TSVALNF (ISO 21090:
``NI`` no information, ``PINF`` no upper age limit, ``NA`` not applicable) instead of a made-up value.
"""

from __future__ import annotations

import re
from typing import Any

from trialport.cdisc.terminology import CT_VERSION, lookup, parameters, term
from trialport.mapping.countries import country
from trialport.model import Arm, Location, Trial

VARIABLES = {  # SDTMIG 3.4 order and labels; TSVAL1..n follow TSVAL when a value needs them
    "STUDYID": "Study Identifier",
    "DOMAIN": "Domain Abbreviation",
    "TSSEQ": "Sequence Number",
    "TSGRPID": "Group ID",
    "TSPARMCD": "Trial Summary Parameter Short Name",
    "TSPARM": "Trial Summary Parameter",
    "TSVAL": "Parameter Value",
    "TSVALNF": "Parameter Null Flavor",
    "TSVALCD": "Parameter Value Code",
    "TSVCDREF": "Name of the Reference Terminology",
    "TSVCDVER": "Version of the Reference Terminology",
}
CONDITION_SYSTEMS = {  # condition code systems, most preferred first, with their TSVCDREF name
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl": "NCI Thesaurus",
    "http://id.nlm.nih.gov/mesh": "MeSH",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(year|month|week|day|hour|minute)s?\s*$", re.IGNORECASE)
_ISO_UNIT = {"year": "Y", "month": "M", "week": "W", "day": "D", "hour": "H", "minute": "M"}
COUNTRY_CODES = "ISO 3166"  # TSVCDREF of FCNTRY: the CDISC Dictionary Name (DICTNAM) term for ISO 3166


def iso_age(text: str | None) -> str | None:
    """ClinicalTrials.gov ages ("18 Years", "6 Months") as ISO 8601 durations (P18Y, P6M)."""
    match = _AGE.match(text or "")
    if not match:
        return None
    number, unit = match.group(1).removesuffix(".0"), match.group(2).lower()
    return f"PT{number}{_ISO_UNIT[unit]}" if unit in ("hour", "minute") else f"P{number}{_ISO_UNIT[unit]}"


def outcome_text(measure: str, time_frame: str | None) -> str:
    return f"{measure} (time frame: {time_frame})" if time_frame else measure


class _Rows:
    def __init__(self, study_id: str) -> None:
        self.study_id = study_id
        self.rows: list[dict[str, Any]] = []
        self.seq: dict[str, int] = {}

    def add(self, code: str, value: Any = None, *, null: str = "", ccode: str = "", ref: str = "", ver: str = ""):
        self.seq[code] = self.seq.get(code, 0) + 1
        self.rows.append(
            {
                "STUDYID": self.study_id,
                "DOMAIN": "TS",
                "TSSEQ": self.seq[code],
                "TSGRPID": "",
                "TSPARMCD": code,
                "TSPARM": parameters()[code].term,
                "TSVAL": "" if value is None else str(value),
                "TSVALNF": null if value in (None, "") else "",
                "TSVALCD": ccode,
                "TSVCDREF": ref,
                "TSVCDVER": ver,
            }
        )

    def coded(self, code: str, codelist: str, source_value: str | None) -> None:
        """A value from a CDISC codelist, with its C-code; unknown values keep their text, uncoded;
        no value (or the registry's NA) is a null flavour."""
        term = lookup(codelist, source_value) if source_value else None
        if term:
            self.add(code, term.submission_value, ccode=term.ccode, ref="CDISC CT", ver=CT_VERSION)
        elif source_value and source_value != "NA":
            self.add(code, source_value.replace("_", " "))
        else:
            self.add(code, null="NA" if source_value == "NA" else "NI")

    def term(self, code: str, codelist: str, submission_value: str) -> None:
        found = term(codelist, submission_value)
        self.add(code, found.submission_value, ccode=found.ccode, ref="CDISC CT", ver=CT_VERSION)

    def control(self, arms: list[Arm]) -> None:
        """TCNTRL from the arm types: each kind of comparator arm once (PLACEBO, ACTIVE, SHAM), in the order the
        arms come; arms of known types none of which is a comparator: NONE; no arm type at all: no information."""
        types = [arm.type for arm in arms if arm.type]
        controls = dict.fromkeys(found for kind in types if (found := lookup("TCNTRL", kind)))
        for found in controls:
            self.add("TCNTRL", found.submission_value, ccode=found.ccode, ref="CDISC CT", ver=CT_VERSION)
        if not controls:
            if types:
                self.term("TCNTRL", "TCNTRL", "NONE")
            else:
                self.add("TCNTRL", null="NI")

    def countries(self, locations: list[Location]) -> None:
        """FCNTRY: each site country once, in first-seen order, as ISO 3166-1 alpha-3; a name the country
        table does not know keeps the registry's text, uncoded (never a guessed code)."""
        codes = {}
        for name in dict.fromkeys(location.country for location in locations):
            if name:
                found = country(name)
                codes.setdefault(found.alpha3 if found else name, bool(found))
        for value, coded in codes.items():
            self.add("FCNTRY", value, ref=COUNTRY_CODES if coded else "")
        if not codes:
            self.add("FCNTRY", null="NI")


def ts_rows(trial: Trial) -> list[dict[str, Any]]:
    """The TS rows of ``trial``, in the order a reviewer reads them."""
    rows = _Rows(trial.id)
    rows.add("TITLE", trial.official_title or trial.title)
    if trial.id.startswith("NCT"):
        rows.add("REGID", trial.id, ccode=trial.id, ref="ClinicalTrials.gov")
    if trial.sponsor:
        rows.add("SPONSOR", trial.sponsor)
    for condition in trial.conditions:
        code = next(
            (c for system in CONDITION_SYSTEMS for c in condition.codes if c.system == system),
            None,
        )
        if code:
            rows.add("INDIC", condition.name, ccode=code.code, ref=CONDITION_SYSTEMS[code.system])
        else:
            rows.add("INDIC", condition.name)
    for intervention in trial.interventions:
        rows.add("TRT", intervention.name)
    for kind in dict.fromkeys(i.type for i in trial.interventions if i.type and i.type != "OTHER"):
        rows.coded("INTTYPE", "INTTYPE", kind)
    rows.coded("TPHASE", "TPHASE", "+".join(trial.phases) or None)
    rows.coded("STYPE", "STYPE", trial.study_type)
    design = trial.design
    if trial.study_type == "INTERVENTIONAL" or design:
        rows.coded("INTMODEL", "INTMODEL", design.intervention_model if design else None)
        allocation = design.allocation if design else None
        randomised = {"RANDOMIZED": "true", "NON_RANDOMIZED": "false"}.get(allocation or "", allocation)
        rows.coded("RANDOM", "NY", randomised)
        rows.coded("TBLIND", "TBLIND", design.masking if design else None)
        rows.control(trial.arms)
    if trial.arms:
        rows.add("NARMS", len(trial.arms))
    enrollment = trial.enrollment
    if enrollment and enrollment.count is not None:
        rows.add("ACTSUB" if enrollment.type == "ACTUAL" else "PLANSUB", enrollment.count)
    else:
        rows.add("PLANSUB", null="NI")
    eligibility = trial.eligibility
    if eligibility:
        minimum, maximum = iso_age(eligibility.minimum_age), iso_age(eligibility.maximum_age)
        rows.add("AGEMIN", minimum, null="NA", ref="ISO 8601" if minimum else "")
        rows.add("AGEMAX", maximum, null="PINF", ref="ISO 8601" if maximum else "")
        rows.coded("SEXPOP", "SEXPOP", eligibility.sex)
        healthy = eligibility.healthy_volunteers
        rows.coded("HLTSUBJI", "NY", None if healthy is None else str(healthy).lower())
    else:
        for code in ("AGEMIN", "AGEMAX", "SEXPOP", "HLTSUBJI"):
            rows.add(code, null="NI")
    rows.add("SSTDTC", trial.dates.start, null="NI", ref="ISO 8601" if trial.dates.start else "")
    if trial.dates.completion:
        rows.add("SENDTC", trial.dates.completion, ref="ISO 8601")
    rows.countries(trial.locations)
    if not any(outcome.kind == "primary" for outcome in trial.outcomes):
        rows.add("OUTMSPRI", null="NI")  # the record lists none: no information (not "not applicable")
    codes = {"primary": "OUTMSPRI", "secondary": "OUTMSSEC", "other": "OUTMSEXP"}
    for outcome in trial.outcomes:
        frame = outcome.time_frame.text if outcome.time_frame else None
        rows.add(codes[outcome.kind], outcome_text(outcome.measure, frame))
    return rows.rows
