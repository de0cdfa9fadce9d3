"""Curated code tables (``mapping/data/*.csv``): conditions, target antigens, intervention types.

Each row names its source, source version and licence. A name is matched after normalising case,
punctuation and qualifiers that do not change the disease ("relapsed", "refractory", "stage IV",
"in remission", "(AML)"); no match gives no code, never a guessed one.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from trialport.model import Coding

MESH = "http://id.nlm.nih.gov/mesh"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
HGNC = "http://www.genenames.org"
# our curated list, for antigens that are not gene products (GD2); defined in our FHIR package
ANTIGEN = "https://trialport.dev/fhir/CodeSystem/antigen"

_QUALIFIERS = re.compile(
    r"^(?:(?:relapsed|refractory|recurrent|r r|relapsed refractory|relapsed or refractory|advanced|metastatic|"
    r"locally advanced|unresectable|newly diagnosed|untreated|previously treated|high risk|low risk|adult|adults|"
    r"childhood|pediatric|paediatric|secondary|de novo|primary|stage [0-9iv]+[abc]?|cd\d+ positive)\s+)+"
    r"|(?:\s+(?:in relapse|in remission|in first remission|in children|in adults|in childhood|childhood|adult|"
    r"pediatric|refractory|relapsed|recurrent|stage [0-9iv]+[abc]?|nos))+$"
)
_ACRONYM_IN_BRACKETS = re.compile(r"\s*[(\[][a-z0-9\- ]{1,10}[)\]]\s*")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """Case, punctuation and spacing folded: "Non-Small-Cell Lung Cancer (NSCLC)" → "non small cell lung cancer"."""
    name = _ACRONYM_IN_BRACKETS.sub(" ", name.casefold().replace("'", ""))
    return _NON_WORD.sub(" ", name).strip()


def _without_qualifiers(name: str) -> str:
    previous = None
    while previous != name:
        previous, name = name, _QUALIFIERS.sub("", name).strip()
    return name


def _read(name: str) -> list[dict[str, str]]:
    with files("trialport.mapping").joinpath("data", name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def _conditions() -> dict[str, dict[str, str]]:
    table = {}
    for row in _read("conditions.csv"):
        for name in [row["key"], *row["synonyms"].split("|")]:
            if name.strip():
                table[normalise(name)] = row
    return table


def condition_codes(name: str) -> list[Coding]:
    """Curated codings for a condition name: MeSH, ICD-10-CM, NCIt, ICD-O-3 (whichever the row has)."""
    return list(_codes_of_name(name) if type(name) is str else _codes_uncached(name))


def _codes_uncached(name: str) -> tuple[Coding, ...]:
    table = _condition_codings()
    key = normalise(name)
    codes = table.get(key)
    if codes is None:
        codes = table.get(_without_qualifiers(key))
    return codes or ()


_codes_of_name = lru_cache(maxsize=16384)(_codes_uncached)  # condition names recur across trials


@cache
def _condition_codings() -> dict[str, tuple[Coding, ...]]:
    """``_conditions()`` with each row's Codings in its place, made once per row (Codings are immutable)."""
    made: dict[int, tuple[Coding, ...]] = {}
    table = {}
    for name, row in _conditions().items():
        if id(row) not in made:
            made[id(row)] = tuple(
                Coding(system=system, code=code, display=display or None, origin="curated")
                for system, code, display in (
                    (MESH, row["mesh"], row["mesh_label"]),
                    (ICD10CM, row["icd10cm"], None),
                    (NCIT, row["ncit"], None),
                    (ICDO3, row["icdo3"], row["icdo3_label"]),
                )
                if code
            )
        table[name] = made[id(row)]
    return table


@dataclass(frozen=True)
class Antigen:
    key: str
    names: tuple[str, ...]
    coding: Coding

    @property
    def lowered(self) -> tuple[str, ...]:
        """The names in lower case without spaces and hyphens ("bcellmaturationantigen")."""
        return tuple(n.lower().replace(" ", "").replace("-", "") for n in self.names)


@cache
def antigens() -> tuple[Antigen, ...]:
    """Target antigens, each with every name it goes by and its HGNC gene; an antigen that is not a
    gene product (GD2, a glycolipid) is coded in our own curated list."""
    found = []
    for row in _read("antigens.csv"):
        names = tuple(n for n in [row["key"], *row["synonyms"].split("|")] if n.strip())
        if row["hgnc_id"]:
            coding = Coding(system=HGNC, code=row["hgnc_id"], display=row["hgnc_symbol"], origin="curated")
        else:
            coding = Coding(system=ANTIGEN, code=row["key"], display=row["display"], origin="curated")
        found.append(Antigen(row["key"], names, coding))
    return tuple(found)


@cache
def intervention_types() -> dict[str, dict[str, str]]:
    """API v2 intervention type → FHIR research-study-focus-type and CDISC INTTYPE."""
    return {row["type"]: row for row in _read("intervention_types.csv")}
