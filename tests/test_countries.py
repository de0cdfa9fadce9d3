"""Country names → ISO 3166-1: every spelling in the real records, the registry's usual spellings, and the
whole table checked against pycountry (Debian iso-codes), an independent source."""

from __future__ import annotations

import csv
import re
from importlib.resources import files

import pytest
from conftest import CTGOV

from trialport.mapping.countries import country

# Names the registry has written for places that have no current ISO 3166-1 code: kept as text, never guessed.
NO_CODE = {"Former Serbia and Montenegro", "Kosovo", "Netherlands Antilles", "Former Yugoslavia"}


def spellings_in_the_records() -> set[str]:
    """Every country name in tests/data/ctgov: API v2 and classic JSON, legacy XML."""
    found: set[str] = set()
    for path in CTGOV.rglob("*.json"):
        found.update(re.findall(r'"(?:country|LocationCountry)":\s*"([^"]*)"', path.read_text(encoding="utf-8")))
    for path in CTGOV.rglob("*.xml"):
        found.update(re.findall(r"<country>([^<]*)</country>", path.read_text(encoding="utf-8")))
    return found


def test_every_country_in_the_real_records_has_its_code():
    names = spellings_in_the_records()
    assert len(names) > 70
    assert {name for name in names if country(name) is None} == {"Former Serbia and Montenegro"}


@pytest.mark.parametrize(
    ("name", "alpha2", "alpha3"),
    [
        ("Korea, Republic of", "KR", "KOR"),
        ("South Korea", "KR", "KOR"),
        ("Iran, Islamic Republic of", "IR", "IRN"),
        ("Russian Federation", "RU", "RUS"),
        ("Russia", "RU", "RUS"),
        ("Taiwan", "TW", "TWN"),
        ("Turkey", "TR", "TUR"),
        ("Türkiye", "TR", "TUR"),
        ("Turkey (Türkiye)", "TR", "TUR"),
        ("Czechia", "CZ", "CZE"),
        ("Czech Republic", "CZ", "CZE"),
        ("Moldova, Republic of", "MD", "MDA"),
        ("Congo, The Democratic Republic of the", "CD", "COD"),
        ("Congo", "CG", "COG"),
        ("Hong Kong", "HK", "HKG"),
        ("Puerto Rico", "PR", "PRI"),
        ("Réunion", "RE", "REU"),
        ("Côte D'Ivoire", "CI", "CIV"),
        ("Macedonia, The Former Yugoslav Republic of", "MK", "MKD"),
        ("Virgin Islands (U.S.)", "VI", "VIR"),
        ("united states", "US", "USA"),
    ],
)
def test_the_registrys_spellings(name, alpha2, alpha3):
    found = country(name)
    assert found is not None and (found.alpha2, found.alpha3) == (alpha2, alpha3)


@pytest.mark.parametrize("name", [*sorted(NO_CODE), "Korea", "Europe", ""])
def test_no_guess_for_a_name_without_a_code(name):
    assert country(name) is None


def test_the_table_agrees_with_pycountry():
    pycountry = pytest.importorskip("pycountry")
    with files("trialport.mapping").joinpath("data", "countries.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["alpha2"] for row in rows} == {c.alpha_2 for c in pycountry.countries}
    for row in rows:
        iso = pycountry.countries.get(alpha_2=row["alpha2"])
        assert (iso.alpha_3, iso.name) == (row["alpha3"], row["name"]), row["alpha2"]
        assert row["source"] and row["source_version"] and row["licence"]
        for spelling in [row["name"], *filter(None, row["spellings"].split("|"))]:
            assert country(spelling).alpha2 == row["alpha2"], spelling
