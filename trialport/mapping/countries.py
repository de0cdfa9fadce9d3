"""Country names as registries write them → ISO 3166-1 (``data/countries.csv``).

A name is matched after folding case, accents, apostrophes and punctuation, so "Turkey (Türkiye)",
"Türkiye" and "turkey" all find TR. A name the table does not hold gets no code: a historical or
disputed name ("Former Serbia and Montenegro", "Kosovo") is never mapped to a guess.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache, lru_cache
from importlib.resources import files
from typing import NamedTuple

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class Country(NamedTuple):
    alpha2: str
    alpha3: str
    name: str  # the ISO 3166-1 English short name


def normalise(name: str) -> str:
    """ "Côte D'Ivoire" → "cote divoire": case, accents, apostrophes and punctuation folded."""
    folded = unicodedata.normalize("NFKD", name.casefold().replace("'", "").replace("’", ""))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", folded).strip()


@cache
def _table() -> dict[str, Country]:
    table = {}
    with files("trialport.mapping").joinpath("data", "countries.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            country = Country(row["alpha2"], row["alpha3"], row["name"])
            for spelling in [row["name"], *row["spellings"].split("|")]:
                if spelling.strip():
                    table[normalise(spelling)] = country
    return table


@lru_cache(maxsize=4096)  # a few hundred spellings recur across every site of every study
def country(name: str) -> Country | None:
    """The ISO 3166-1 country a registry's country name means, or None when the table does not know it."""
    return _table().get(normalise(name))
