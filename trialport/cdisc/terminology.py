"""The CDISC controlled terminology TS and TI use, as a small curated table (data/terminology.csv).

Each row: codelist (TSPARMCD or the short name of a value codelist), the submission value, the NCI
preferred term (for TSPARMCD: TSPARM), its C-code, and which canonical model value(s) it stands for
(``a|b`` alternatives, ``a+b`` a combination, as in phases). Checked against a published CDISC CT file
in the tests.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

CT_VERSION = "2025-09-26"  # the CDISC CT package (SDTM) the codes were checked against
CODELISTS = {  # short name → (NCI codelist code, name)
    "TSPARMCD": ("C66738", "Trial Summary Parameter Test Code"),
    "TSPARM": ("C67152", "Trial Summary Parameter Test Name"),
    "TPHASE": ("C66737", "Trial Phase Response"),
    "INTTYPE": ("C99078", "Intervention Type Response"),
    "STYPE": ("C99077", "Study Type Response"),
    "INTMODEL": ("C99076", "Intervention Model Response"),
    "TBLIND": ("C66735", "Trial Blinding Schema Response"),
    "SEXPOP": ("C66732", "Sex of Participants Response"),
    "NY": ("C66742", "No Yes Response"),
    "TCNTRL": ("C66785", "Control Type Response"),
    "IECAT": ("C66797", "Category of Inclusion/Exclusion"),
}


@dataclass(frozen=True)
class Term:
    codelist: str
    submission_value: str
    term: str
    ccode: str
    source_value: str


@cache
def terms() -> tuple[Term, ...]:
    text = resources.files("trialport.cdisc").joinpath("data/terminology.csv").read_text("utf-8")
    return tuple(Term(**row) for row in csv.DictReader(text.splitlines()))


@cache
def parameters() -> dict[str, Term]:
    """TSPARMCD → its term (TSPARM and C-code)."""
    return {t.submission_value: t for t in terms() if t.codelist == "TSPARMCD"}


@cache
def _by_source() -> dict[tuple[str, str], Term]:
    found = {}
    for t in terms():
        for value in t.source_value.split("|"):
            if value:
                found[t.codelist, value] = t
    return found


@cache
def _by_submission() -> dict[tuple[str, str], Term]:
    return {(t.codelist, t.submission_value): t for t in terms()}


def term(codelist: str, submission_value: str) -> Term:
    """The CDISC term with this submission value (``term("TCNTRL", "NONE")``); a KeyError names what is missing."""
    return _by_submission()[codelist, submission_value]


def lookup(codelist: str, source_value: str) -> Term | None:
    """The CDISC term for a canonical model value (``lookup("TBLIND", "DOUBLE")``), if it has one."""
    return _by_source().get((codelist, source_value))
