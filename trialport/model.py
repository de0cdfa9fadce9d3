"""The canonical trial model: what every reader fills and every exporter writes from.

Field names are a contract (see DESIGN.md): tools outside the package read
``Trial.model_dump(mode="json")``. Enumerations use ClinicalTrials.gov API v2 values. A field the
source does not have is None or empty, never invented. No I/O here.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Coding(_Frozen):
    """A code from a terminology; ``origin`` says whether the registry gave it or our tables did."""

    system: str
    code: str
    display: str | None = None
    origin: Literal["registry", "curated"]


class Identifier(_Frozen):
    """An identifier of the trial: NCT number, sponsor's id, another registry's id."""

    system: str | None = None
    value: str
    type: str | None = None


class Condition(_Frozen):
    name: str
    codes: list[Coding] = Field(default_factory=list)


InterventionType = Literal[
    "DRUG",
    "BIOLOGICAL",
    "GENETIC",
    "DEVICE",
    "PROCEDURE",
    "RADIATION",
    "BEHAVIORAL",
    "DIETARY_SUPPLEMENT",
    "COMBINATION_PRODUCT",
    "DIAGNOSTIC_TEST",
    "OTHER",
]
INTERVENTION_TYPES: tuple[str, ...] = InterventionType.__args__  # type: ignore[attr-defined]


class Intervention(_Frozen):
    """``targets``: antigens a cell therapy is directed at; ``codes``: the intervention itself (MeSH)."""

    type: InterventionType | None = None
    name: str
    description: str | None = None
    other_names: list[str] = Field(default_factory=list)
    arm_labels: list[str] = Field(default_factory=list)
    targets: list[Coding] = Field(default_factory=list)
    codes: list[Coding] = Field(default_factory=list)


class TimeFrame(_Frozen):
    """An outcome's time frame: the text verbatim, plus its structure once parsed.

    A schedule whose times need more than one number each lists them in ``points``, one timepoint each
    (its ``text`` the words it was read from): times in units that do not convert exactly (100 days, 1 year),
    days of different cycles (cycle 1 day 8, cycle 2 day 1: ``anchor`` "cycle 2"), times with a window of
    their own, times with samples of their own. ``value`` and ``unit`` then hold the points only where they
    share one unit and one anchor, else they are None. ``within`` is a schedule inside one timepoint,
    counted from the dose given then (pharmacokinetic sampling: "pre-dose, 1, 2, 4 hours post-dose" is
    [0, 1, 2, 4] h, pre-dose being 0 h).
    """

    text: str
    kind: Literal["duration", "timepoint", "schedule", "unparsed"] = "unparsed"
    value: float | list[float] | None = None
    unit: str | None = None
    iso8601: str | None = None
    comparator: str | None = None
    tolerance: str | None = None
    anchor: str | None = None
    points: list[TimeFrame] = Field(default_factory=list)
    within: TimeFrame | None = None


class Outcome(_Frozen):
    kind: Literal["primary", "secondary", "other"]
    measure: str
    description: str | None = None
    time_frame: TimeFrame | None = None


Phase = Literal["EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]


class Enrollment(_Frozen):
    count: int | None = None
    type: str | None = None


class Dates(_Frozen):
    """ISO 8601 dates as the source gives them: ``2024``, ``2024-09`` or ``2024-09-16``."""

    start: str | None = None
    primary_completion: str | None = None
    completion: str | None = None
    first_posted: str | None = None
    last_update: str | None = None


class Design(_Frozen):
    allocation: str | None = None
    intervention_model: str | None = None
    masking: str | None = None
    primary_purpose: str | None = None
    observational_model: str | None = None
    time_perspective: str | None = None


class Arm(_Frozen):
    label: str
    type: str | None = None
    description: str | None = None
    intervention_names: list[str] = Field(default_factory=list)


class Eligibility(_Frozen):
    """``criteria``: the registry's block as given. ``inclusion`` / ``exclusion``: its criteria one by one,
    in order, each the item's text with its sub-items on lines of their own below it (empty when the block
    could not be split with confidence: it stays whole in ``criteria`` and a diagnostic says why).
    ``std_ages``: the registry's age groups (CHILD, ADULT, OLDER_ADULT); ``study_population`` and
    ``sampling_method``: who an observational study enrols, and how."""

    criteria: str | None = None
    inclusion: list[str] = Field(default_factory=list)
    exclusion: list[str] = Field(default_factory=list)
    sex: str | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    healthy_volunteers: bool | None = None
    std_ages: list[str] = Field(default_factory=list)
    study_population: str | None = None
    sampling_method: str | None = None


class Contact(_Frozen):
    """A person to call: a study's central contact or a site's. ``role`` in API v2 values (CONTACT,
    PRINCIPAL_INVESTIGATOR, SUB_INVESTIGATOR, ...); ``phone`` keeps an extension as ``ext. 123``."""

    name: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None


class GeoPoint(_Frozen):
    lat: float
    lon: float


class Location(_Frozen):
    """A site. ``status`` is the site's own recruitment status in API v2 values (RECRUITING, ...)."""

    facility: str | None = None
    status: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    geo: GeoPoint | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Official(_Frozen):
    """An investigator responsible for the study: PRINCIPAL_INVESTIGATOR, STUDY_DIRECTOR, STUDY_CHAIR."""

    name: str
    affiliation: str | None = None
    role: str | None = None


class Reference(_Frozen):
    """A publication about the study; ``type`` BACKGROUND, RESULT or DERIVED."""

    pmid: str | None = None
    citation: str | None = None
    type: str | None = None


class Link(_Frozen):
    """A web page the registry lists for the study (``seeAlsoLinks``)."""

    label: str | None = None
    url: str


class Evidence(_Frozen):
    field: str
    text: str


class CellTherapy(_Frozen):
    """CAR-T (or CAR-NK, CAR-NKT, TCR-T, CAR-M) features found in the trial's text, each backed by evidence.
    ``products``: the named products found (INN, e.g. axicabtagene ciloleucel); ``role``: ``product`` when the trial
    studies the cell therapy itself, ``background`` when it studies something given around it
    (lymphodepletion, toxicity prophylaxis, imaging of patients receiving it)."""

    modality: str | None = None
    products: list[str] = Field(default_factory=list)
    role: Literal["product", "background"] | None = None
    targets: list[Coding] = Field(default_factory=list)
    multi_target: str | None = None
    generation: str | None = None
    costimulatory: list[str] = Field(default_factory=list)
    origin: str | None = None
    vector: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class Source(_Frozen):
    """Where a trial came from: the reader's format, the file, the record within it, its hash."""

    format: str
    path: str
    record: str | None = None
    sha256: str | None = None


class Diagnostic(_Frozen):
    level: Literal["info", "warning", "error"]
    code: str
    field: str | None = None
    message: str


class Trial(_Frozen):
    id: str
    identifiers: list[Identifier] = Field(default_factory=list)
    title: str
    official_title: str | None = None
    acronym: str | None = None
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    study_type: str | None = None
    status: str | None = None
    sponsor: str | None = None
    collaborators: list[str] = Field(default_factory=list)
    enrollment: Enrollment | None = None
    dates: Dates = Field(default_factory=Dates)
    design: Design | None = None
    arms: list[Arm] = Field(default_factory=list)
    eligibility: Eligibility | None = None
    why_stopped: str | None = None
    locations: list[Location] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    officials: list[Official] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    cell_therapy: CellTherapy | None = None
    source: Source | None = None
    diagnostics: list[Diagnostic] = Field(default_factory=list)


_NCT = re.compile(r"^NCT\d{8}$")
_NON_WORD = re.compile(r"\W+")


def normal(text: str | None) -> str:
    """Case folded, runs of non-word characters made one space: "St. Jude's" → "st jude s"."""
    return _NON_WORD.sub(" ", text.casefold()).strip() if text else ""


def trial_id(nct_id: str | None, title: str) -> str:
    """The NCT number when known, else ``local-`` + 12 hex of sha256 of the normalised title.

    Normalising (case-folded, runs of non-word characters made one space) keeps the id stable when
    the same title arrives with different punctuation, spacing or case.
    """
    if nct_id and _NCT.match(nct_id.strip().upper()):
        return nct_id.strip().upper()
    return "local-" + hashlib.sha256(normal(title).encode("utf-8")).hexdigest()[:12]
