"""Render registry records as ClinicalTrials.gov CSV exports, for pairs of formats in tests.

No real study is available both as API v2 JSON and as a CSV export, so tests build the pair: the
current website export from API v2 studies, the legacy export from legacy XML records (whose display
values are the ones the legacy export used). The rules are the exports' own: ``|``-joined lists,
``TYPE: name`` interventions, outcomes flattened as ``measure, description, time frame``, sites as
``Facility, City, State, Zip, Country`` with the empty parts left out, joined by ``|``.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

CURRENT = [
    "NCT Number",
    "Study Title",
    "Study URL",
    "Study Status",
    "Brief Summary",
    "Study Results",
    "Conditions",
    "Interventions",
    "Primary Outcome Measures",
    "Secondary Outcome Measures",
    "Other Outcome Measures",
    "Sponsor",
    "Collaborators",
    "Age",
    "Phases",
    "Study Type",
    "Study Design",
    "Start Date",
    "Primary Completion Date",
    "Completion Date",
    "Locations",
]
LEGACY = [
    "Rank",
    "NCT Number",
    "Title",
    "Acronym",
    "Status",
    "Study Results",
    "Conditions",
    "Interventions",
    "Outcome Measures",
    "Sponsor/Collaborators",
    "Gender",
    "Age",
    "Phases",
    "Enrollment",
    "Funded Bys",
    "Study Type",
    "Study Designs",
    "Other IDs",
    "Start Date",
    "Primary Completion Date",
    "Completion Date",
    "First Posted",
    "Results First Posted",
    "Last Update Posted",
    "Locations",
    "Study Documents",
    "URL",
]


def _csv(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def site_text(*parts: str | None) -> str:
    """One site as both exports write it: ``Facility, City, State, Zip, Country``, empty parts left out."""
    return ", ".join(part for part in parts if part)


def current_csv(studies: list[dict]) -> str:
    """API v2 studies as the current website's CSV export."""
    rows = []
    for study in studies:
        p = study["protocolSection"]
        design = p.get("designModule", {})
        info = design.get("designInfo", {})
        status = p.get("statusModule", {})
        outcomes = p.get("outcomesModule", {})

        def flat(key: str, outcomes=outcomes) -> str:
            return "|".join(
                ", ".join(x for x in (o.get("measure"), o.get("description"), o.get("timeFrame")) if x)
                for o in outcomes.get(key, [])
            )

        pairs = [
            ("Allocation", info.get("allocation")),
            ("Intervention Model", info.get("interventionModel")),
            ("Masking", info.get("maskingInfo", {}).get("masking")),
            ("Primary Purpose", info.get("primaryPurpose")),
            ("Observational Model", info.get("observationalModel")),
            ("Time Perspective", info.get("timePerspective")),
        ]
        rows.append(
            {
                "NCT Number": p["identificationModule"]["nctId"],
                "Study Title": p["identificationModule"].get("briefTitle", ""),
                "Study URL": f"https://clinicaltrials.gov/study/{p['identificationModule']['nctId']}",
                "Study Status": status.get("overallStatus", ""),
                "Brief Summary": p.get("descriptionModule", {}).get("briefSummary", ""),
                "Study Results": "YES" if study.get("hasResults") else "NO",
                "Conditions": "|".join(p.get("conditionsModule", {}).get("conditions", [])),
                "Interventions": "|".join(
                    f"{i['type']}: {i['name']}" for i in p.get("armsInterventionsModule", {}).get("interventions", [])
                ),
                "Primary Outcome Measures": flat("primaryOutcomes"),
                "Secondary Outcome Measures": flat("secondaryOutcomes"),
                "Other Outcome Measures": flat("otherOutcomes"),
                "Sponsor": p.get("sponsorCollaboratorsModule", {}).get("leadSponsor", {}).get("name", ""),
                "Collaborators": "|".join(
                    c["name"] for c in p.get("sponsorCollaboratorsModule", {}).get("collaborators", [])
                ),
                "Age": ", ".join(p.get("eligibilityModule", {}).get("stdAges", [])),
                "Phases": "|".join(design.get("phases", [])),
                "Study Type": design.get("studyType", ""),
                "Study Design": "|".join(f"{k}: {v}" for k, v in pairs if v),
                "Start Date": status.get("startDateStruct", {}).get("date", ""),
                "Primary Completion Date": status.get("primaryCompletionDateStruct", {}).get("date", ""),
                "Completion Date": status.get("completionDateStruct", {}).get("date", ""),
                "Locations": "|".join(
                    site_text(*(site.get(key) for key in ("facility", "city", "state", "zip", "country")))
                    for site in p.get("contactsLocationsModule", {}).get("locations", [])
                ),
            }
        )
    return _csv(CURRENT, rows)


ADDRESS = ("city", "state", "zip", "country")
_YEARS = {"Year": 1, "Month": 1 / 12, "Week": 1 / 52, "Day": 1 / 365, "Hour": 1 / 8760, "Minute": 1 / 525600}


def _years(age: str) -> float | None:
    """``18 Years`` → 18.0; ``N/A`` (no limit) → None."""
    number, _, unit = age.partition(" ")
    return float(number) * _YEARS[unit.rstrip("s")] if number.isdigit() else None


def legacy_age(low: str, high: str) -> str:
    """The legacy export's age cell: the limits, then the age groups the website derived from them
    (Child under 18, Adult 18 to 64, Older Adult 65 and over): ``18 Years and older   (Adult, Older Adult)``."""
    if low == high == "null":  # no eligibility element
        return "null"
    low_years, high_years = _years(low), _years(high)
    floor, ceiling = low_years or 0, high_years if high_years is not None else 200
    groups = [
        name
        for name, start, end in (("Child", 0, 18), ("Adult", 18, 65), ("Older Adult", 65, 200))
        if floor < end and ceiling >= start
    ]
    if low_years is not None and high_years is not None:
        limits = f"{low} to {high}"
    elif low_years is not None:
        limits = f"{low} and older"
    elif high_years is not None:
        limits = f"up to {high}"
    else:
        return ", ".join(groups)
    return f"{limits}   ({', '.join(groups)})"


def legacy_csv(xml_paths: list[Path]) -> str:
    """Legacy XML records as the legacy website's CSV export (``null`` where a value is absent)."""
    rows = []
    for rank, path in enumerate(xml_paths, 1):
        root = ET.parse(path).getroot()

        def text(tag: str, root=root) -> str:
            return (root.findtext(tag) or "").strip() or "null"

        design = root.find("study_design_info")
        design_pairs = (
            [
                (label, design.findtext(tag))
                for label, tag in (
                    ("Allocation", "allocation"),
                    ("Intervention Model", "intervention_model"),
                    ("Masking", "masking"),
                    ("Primary Purpose", "primary_purpose"),
                    ("Observational Model", "observational_model"),
                    ("Time Perspective", "time_perspective"),
                )
            ]
            if design is not None
            else []
        )
        outcomes = [
            o.findtext("measure") for kind in ("primary", "secondary", "other") for o in root.findall(f"{kind}_outcome")
        ]
        age_low, age_high = text("eligibility/minimum_age"), text("eligibility/maximum_age")
        sites = [
            site_text(*(site.findtext(tag) for tag in ("facility/name", *(f"facility/address/{a}" for a in ADDRESS))))
            for site in root.findall("location")
        ]
        rows.append(
            {
                "Rank": str(rank),
                "NCT Number": text("id_info/nct_id"),
                "Title": text("brief_title"),
                "Acronym": text("acronym"),
                "Status": text("overall_status"),
                "Study Results": "No Results Available",
                "Conditions": "|".join(c.text for c in root.findall("condition")),
                "Interventions": "|".join(
                    f"{i.findtext('intervention_type')}: {i.findtext('intervention_name')}"
                    for i in root.findall("intervention")
                ),
                "Outcome Measures": "|".join(outcomes),
                "Sponsor/Collaborators": "|".join(a.text for a in root.findall("sponsors/*/agency")),
                "Gender": text("eligibility/gender"),
                "Age": legacy_age(age_low, age_high),
                "Phases": text("phase").replace("/Phase", "|Phase"),
                "Enrollment": text("enrollment"),
                "Funded Bys": "Other",
                "Study Type": text("study_type"),
                "Study Designs": "|".join(f"{k}: {v}" for k, v in design_pairs if v),
                "Other IDs": text("id_info/org_study_id"),
                "Start Date": text("start_date"),
                "Primary Completion Date": text("primary_completion_date"),
                "Completion Date": text("completion_date"),
                "First Posted": text("study_first_posted"),
                "Results First Posted": "null",
                "Last Update Posted": text("last_update_posted"),
                "Locations": "|".join(sites) or "null",
                "Study Documents": "null",
                "URL": f"https://ClinicalTrials.gov/show/{text('id_info/nct_id')}",
            }
        )
    return _csv(LEGACY, rows)
