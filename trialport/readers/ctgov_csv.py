"""Reader for ClinicalTrials.gov CSV exports: the current website's and the legacy (pre-2023) one.

Current: ``NCT Number, Study Title, ..., Primary Outcome Measures, ...`` with API v2 values,
``|``-joined lists, ``TYPE: name`` interventions, outcomes flattened as ``measure, description, time
frame`` and quoted multi-line cells. Legacy: ``Rank, NCT Number, Title, ..., Outcome Measures`` with
display values (``Drug: x``, ``Phase 1|Phase 2``, ``March 2017``), the literal ``null`` for empty and
outcome titles only. Either may be comma- or tab-separated. Both give age groups in ``Age`` and may
have a ``Locations`` column (sites joined by ``|``, each split by ``ctgov_places``). Each row is
translated to API v2 shape and mapped by ``ctgov_v2``; rows stream one at a time.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from trialport.model import Diagnostic, Source
from trialport.readers import ctgov_v2
from trialport.readers.assemble import assemble
from trialport.readers.base import ReadResult, Rejection, Skipped, sha256
from trialport.readers.ctgov_places import split_location
from trialport.readers.ctgov_values import nonempty
from trialport.readers.flattened import interventions, outcomes_module

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # registry cells can be long; rows are still bounded by lines

MAX_RECORD_NAME = 40  # an NCT cell longer than this is not an NCT number: the row is named by its number instead
_AGE_RANGE = re.compile(r"^\s*(?:(\d+ \w+) to (\d+ \w+)|(\d+ \w+) and older|up to (\d+ \w+))", re.IGNORECASE)

# The column names each flavour uses for one meaning (current first, then legacy).
COLUMNS = {
    "nct": ("NCT Number",),
    "title": ("Study Title", "Title"),
    "acronym": ("Acronym",),
    "status": ("Study Status", "Status"),
    "summary": ("Brief Summary",),
    "conditions": ("Conditions",),
    "interventions": ("Interventions",),
    "primary": ("Primary Outcome Measures",),
    "secondary": ("Secondary Outcome Measures",),
    "other": ("Other Outcome Measures",),
    "outcome_titles": ("Outcome Measures",),
    "sponsor": ("Sponsor",),
    "collaborators": ("Collaborators",),
    "sponsor_collaborators": ("Sponsor/Collaborators",),
    "sex": ("Sex", "Gender"),
    "age": ("Age",),
    "phases": ("Phases",),
    "enrollment": ("Enrollment",),
    "study_type": ("Study Type",),
    "design": ("Study Design", "Study Designs"),
    "other_ids": ("Other IDs",),
    "start": ("Start Date",),
    "primary_completion": ("Primary Completion Date",),
    "completion": ("Completion Date",),
    "first_posted": ("First Posted",),
    "last_update": ("Last Update Posted",),
    "locations": ("Locations",),
}


class CtgovCsvReader:
    name = "ctgov-csv"
    description = "ClinicalTrials.gov CSV export, current website and legacy (comma or tab separated)"
    priority = 20

    def sniff(self, path: Path, head: bytes) -> bool:
        first_line = head.split(b"\n", 1)[0]
        return b"NCT Number" in first_line

    def read(self, path: Path) -> Iterator[ReadResult]:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            yield from parse(handle, str(path))


def parse(handle: IO[str], path: str) -> Iterator[ReadResult]:
    """Every row of a CSV export open as text (seekable, opened with ``newline=""``), header first."""
    header_line = handle.readline()
    handle.seek(0)
    delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    rows = csv.reader(handle, delimiter=delimiter)
    header = next(rows, None)
    if not header:
        yield Rejection(path, None, "no header row")
        return
    index = {meaning: _column(header, names) for meaning, names in COLUMNS.items()}
    legacy = index["outcome_titles"] is not None
    count = 0
    for number, row in enumerate(rows, 2):  # spreadsheet row numbers: the header is row 1
        if not any(cell.strip() for cell in row):
            continue
        count += 1
        yield _row(row, header, index, legacy, path, number)
    if not count:  # the file is still accounted for in the run report
        yield Skipped(path, None, "no rows after the header")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _row(
    row: list[str], header: list[str], index: dict[str, int | None], legacy: bool, path: str, number: int
) -> ReadResult:
    def get(meaning: str) -> str | None:
        i = index[meaning]
        return nonempty(row[i]) if i is not None and i < len(row) else None

    nct_cell = get("nct")
    record = nct_cell if nct_cell and len(nct_cell) <= MAX_RECORD_NAME else f"row {number}"
    if len(row) != len(header):
        return Rejection(path, record, f"row {number} has {len(row)} cells; the header has {len(header)}")
    try:
        study, diagnostics = to_v2(get, legacy)
        fields, nct = ctgov_v2.fields(study)
        fields["diagnostics"] = fields["diagnostics"] + diagnostics
        if any("\ufffd" in cell for cell in row):
            fields["diagnostics"].append(
                Diagnostic(
                    level="warning", code="encoding", field=None, message="invalid UTF-8 bytes replaced with \ufffd"
                )
            )
        digest = sha256("\x1f".join(row).encode("utf-8"))
        source = Source(format="ctgov-csv-legacy" if legacy else "ctgov-csv", path=path, record=record, sha256=digest)
        return assemble(fields, source, nct)
    except (ValueError, TypeError, ValidationError) as error:
        return Rejection(path, record, f"{type(error).__name__}: {error}".splitlines()[0])


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split("|") if item.strip()]


def to_v2(get: Any, legacy: bool) -> tuple[dict[str, Any], list[Diagnostic]]:
    """One CSV row (``get(meaning)`` reads a cell) in API v2 shape, plus what reading it had to note."""
    diagnostics: list[Diagnostic] = []
    if legacy:
        titles = _split(get("outcome_titles"))
        outcomes = {"otherOutcomes": [{"measure": title} for title in titles]}
        if titles:
            diagnostics.append(
                Diagnostic(
                    level="warning",
                    code="outcome-kind-unknown",
                    field="outcomes",
                    message="the legacy CSV lists outcome titles without primary/secondary; read as kind 'other'",
                )
            )
    else:
        outcomes, guesses = outcomes_module({kind: get(kind) for kind in ("primary", "secondary", "other")})
        diagnostics += guesses

    sponsor, collaborators = get("sponsor"), _split(get("collaborators"))
    if get("sponsor_collaborators"):
        sponsor, *collaborators = _split(get("sponsor_collaborators"))
    design = dict(_design_pairs(get("design")))
    age = get("age")
    minimum_age, maximum_age = _age_limits(age)
    secondary_ids = [{"id": other} for other in _split(get("other_ids"))]

    study = {
        "protocolSection": {
            "identificationModule": {
                "nctId": get("nct"),
                "briefTitle": get("title"),
                "acronym": get("acronym"),
                "secondaryIdInfos": secondary_ids,
            },
            "statusModule": {
                "overallStatus": get("status"),
                **{
                    f"{key}DateStruct": {"date": get(meaning)}
                    for meaning, key in (
                        ("start", "start"),
                        ("primary_completion", "primaryCompletion"),
                        ("completion", "completion"),
                        ("first_posted", "studyFirstPost"),
                        ("last_update", "lastUpdatePost"),
                    )
                },
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": sponsor},
                "collaborators": [{"name": c} for c in collaborators],
            },
            "descriptionModule": {"briefSummary": get("summary")},
            "conditionsModule": {"conditions": _split(get("conditions"))},
            "designModule": {
                "studyType": get("study_type"),
                "phases": _split(get("phases")),
                "designInfo": {
                    "allocation": design.get("allocation"),
                    "interventionModel": design.get("intervention model"),
                    "primaryPurpose": design.get("primary purpose"),
                    "maskingInfo": {"masking": design.get("masking")},
                    "observationalModel": design.get("observational model"),
                    "timePerspective": design.get("time perspective"),
                },
                "enrollmentInfo": {"count": get("enrollment")},
            },
            "armsInterventionsModule": {"interventions": interventions(get("interventions"))},
            "outcomesModule": outcomes,
            "eligibilityModule": {
                "sex": get("sex"),
                "minimumAge": minimum_age,
                "maximumAge": maximum_age,
                "stdAges": _age_groups(age),
            },
        }
    }
    if sites := get("locations"):  # only the website's newer exports and the legacy one have the column
        study["protocolSection"]["contactsLocationsModule"] = {"locations": _locations(sites, diagnostics)}
    return study, diagnostics


def _locations(cell: str, diagnostics: list[Diagnostic]) -> list[dict[str, Any]]:
    """The ``Locations`` cell: sites joined by ``|``, each ``Facility, City, State, Zip, Country``."""
    sites, unsplit = [], []
    for item in _split(cell):
        (facility, city, state, zip_code, country), certain = split_location(item)
        sites.append({"facility": facility, "city": city, "state": state, "zip": zip_code, "country": country})
        if not certain:
            unsplit.append(item)
    if unsplit:
        diagnostics.append(
            Diagnostic(
                level="warning",
                code="location-unsplit",
                field="locations",
                message=f"{len(unsplit)} of {len(sites)} sites not split into facility, city and state with "
                f"certainty; the text not placed is kept as the facility (first: {unsplit[0]!r})",
            )
        )
    return sites


def _design_pairs(text: str | None) -> Iterator[tuple[str, str]]:
    """``Allocation: NA|Intervention Model: SINGLE_GROUP|...`` → (``allocation``, ``NA``), ...; an
    observational study's ``Observational Model: COHORT|Time Perspective: PROSPECTIVE`` alike."""
    for item in _split(text):
        key, _, value = item.partition(":")
        if value.strip():
            yield key.strip().lower(), value.strip()


def _age_groups(text: str | None) -> list[str]:
    """Age groups: the current export's ``ADULT, OLDER_ADULT``; the legacy ``18 Years and older   (Adult,
    Older Adult)``."""
    if not text:
        return []
    opening = text.find("(")
    if opening != -1:
        closing = text.find(")", opening)
        text = text[opening + 1 : closing if closing != -1 else len(text)]
    elif any(ch.isdigit() for ch in text):
        return []
    return [group for group in (g.strip() for g in text.split(",")) if group]


def _age_limits(text: str | None) -> tuple[str | None, str | None]:
    """The legacy ``18 Years and older   (Adult, Older Adult)``; the current export has age groups only."""
    match = _AGE_RANGE.match(text or "")
    if not match:
        return None, None
    low, high, older, up_to = match.groups()
    return (low or older), (high or up_to)
