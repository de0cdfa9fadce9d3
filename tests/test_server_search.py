"""A hospital's question, "which studies have a site in city X?", asked of the real FHIR R4 servers the
tests start, after a push of every test record (tests/data/ctgov, R4): ``Location?address-city=X`` then
``ResearchStudy?site=Location/<id>,...``, and the chained ``ResearchStudy?site.address-city=X``.

The answers are checked against the raw records themselves (API v2 JSON, classic API JSON, legacy XML;
the CSV export has no sites). Medplum answers all three searches; sekmet-fhir supports none of them, and
says so: a warning that it ignored the parameter (the whole collection comes back), or, asked for strict
handling, a 400 "not-supported".
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from functools import cache

import httpx
import pytest
from conftest import CTGOV
from fhir_servers import TOKEN, count, medplum, sekmet

from trialport.fhir.codes import NCT_SYSTEM
from trialport.fhirclient import Client, push

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {TOKEN}"}
CITIES = ("Kladno", "Houston", "Los Angeles", "Créteil", "Nîmes")  # one study; several; a space; accents
SEARCHES = {"medplum": True, "sekmet": False}  # whether the server answers these searches


class Sites:
    """What the raw records say: each study's NCT number, and each site (facility, city, state, country)."""

    def __init__(self) -> None:
        self.studies: set[str] = set()
        self.sites: list[tuple[str, tuple[str | None, ...]]] = []  # (NCT number, site)

    def add(self, nct: str, facility: str | None, city: str | None, state: str | None, country: str | None):
        self.sites.append((nct, (facility, city, state, country)))

    def studies_in(self, city: str) -> set[str]:
        return {nct for nct, site in self.sites if site[1] == city}

    def places_in(self, city: str) -> int:
        """Distinct sites in ``city``, told apart as Location ids tell them (each part case folded, runs
        of non-word characters made one space): how many Locations the server holds there."""
        return len({tuple(_normal(part) for part in site) for _, site in self.sites if site[1] == city})

    def places(self) -> int:
        return len({tuple(_normal(part) for part in site) for _, site in self.sites})


def _normal(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").casefold()).strip()


def _folded(text: str) -> str:
    """Case and accents gone: what a lenient string search compares."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


@cache
def raw() -> Sites:
    """Read straight from the files, without trialport."""
    found = Sites()
    v2 = json.loads((CTGOV / "nsclc-v2-json" / "ctg-studies.json").read_text(encoding="utf-8"))
    v2 += [json.loads(p.read_text(encoding="utf-8")) for p in (CTGOV / "aact-fixtures" / "v2-json").rglob("*.json")]
    for study in v2:
        protocol = study["protocolSection"]
        nct = protocol["identificationModule"]["nctId"]
        found.studies.add(nct)
        for site in protocol.get("contactsLocationsModule", {}).get("locations", []):
            found.add(nct, *(site.get(k) for k in ("facility", "city", "state", "country")))
    for path in (CTGOV / "aact-fixtures" / "classic-api-json").glob("*.json"):
        for full in json.loads(path.read_text(encoding="utf-8"))["FullStudiesResponse"].get("FullStudies", []):
            protocol = full["Study"]["ProtocolSection"]
            nct = protocol["IdentificationModule"]["NCTId"]
            found.studies.add(nct)
            for site in protocol.get("ContactsLocationsModule", {}).get("LocationList", {}).get("Location", []):
                found.add(nct, *(site.get(f"Location{k}") for k in ("Facility", "City", "State", "Country")))
    for path in (CTGOV / "aact-fixtures" / "legacy-xml").glob("*.xml"):
        root = ET.parse(path).getroot()
        nct = root.findtext("id_info/nct_id")
        found.studies.add(nct)
        for site in root.findall("location"):
            address = [site.findtext(f"facility/address/{k}") for k in ("city", "state", "country")]
            found.add(nct, site.findtext("facility/name"), *address)
    with open(CTGOV / "mrd-aml-csv" / "ctg-studies.csv", newline="", encoding="utf-8") as file:
        rows = csv.DictReader(file)
        assert "Locations" not in (rows.fieldnames or [])  # this export has no sites
        found.studies.update(row["NCT Number"] for row in rows)
    return found


def _push(base: str) -> None:
    report = push([CTGOV], base, "R4", client=Client(base, token=TOKEN, timeout=120))
    assert report.exit_code == 0, [o for o in report.outcomes if o.status == "failed"][:3]
    assert count(base, "ResearchStudy") == len(raw().studies) == 623
    assert count(base, "Location") == raw().places() == 3411  # one Location per distinct site


@pytest.fixture(scope="module")
def sekmet_server(tmp_path_factory):
    with sekmet(tmp_path_factory.mktemp("sekmet")) as base:
        _push(base)
        yield base


@pytest.fixture(scope="module")
def medplum_server():
    with medplum() as base:
        _push(base)
        yield base


@pytest.fixture(params=sorted(SEARCHES))
def server(request) -> tuple[str, str]:
    return request.param, request.getfixturevalue(f"{request.param}_server")


def search(base: str, kind: str, params: dict[str, str], strict: bool = False) -> httpx.Response:
    headers = {**HEADERS, "Prefer": "handling=strict"} if strict else HEADERS
    return httpx.get(f"{base}/{kind}", params={**params, "_count": "1000"}, headers=headers, timeout=60)


def matches(response: httpx.Response) -> list[dict]:
    """The resources a search found (one page holds them all, or this fails)."""
    assert response.status_code == 200, response.text[:300]
    bundle = response.json()
    found = [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
    assert len(found) == bundle["total"]
    return found


def nct_numbers(studies: list[dict]) -> set[str]:
    return {i["value"] for s in studies for i in s.get("identifier", []) if i.get("system") == NCT_SYSTEM}


def assert_not_supported(base: str, kind: str, params: dict[str, str], name: str) -> None:
    """Leniently (the default), the parameter is ignored, with a warning saying so: every resource of
    ``kind`` comes back, so a client that does not read the warning gets a wrong answer. Asked for strict
    handling, the server refuses: 400, not-supported."""
    lenient = search(base, kind, params)
    everything = count(base, kind)
    assert lenient.status_code == 200 and lenient.json()["total"] == everything
    issues = [
        issue
        for e in lenient.json()["entry"]
        if e.get("search", {}).get("mode") == "outcome"
        for issue in e["resource"]["issue"]
    ]
    assert [(i["severity"], i["code"]) for i in issues] == [("warning", "not-supported")]
    assert f"'{name}'" in issues[0]["diagnostics"] and "ignored" in issues[0]["diagnostics"]
    strict = search(base, kind, params, strict=True)
    assert strict.status_code == 400
    ((issue,),) = [strict.json()["issue"]]
    assert (issue["severity"], issue["code"]) == ("error", "not-supported") and f"'{name}'" in issue["diagnostics"]


def test_the_cities_asked_about_are_what_they_claim():
    """One study, several, a space, accents; and no other city in the records contains the name, once case
    and accents are folded, so exact, prefix or substring matching, lenient or not, give one answer."""
    sites = raw()
    assert len(sites.studies_in("Kladno")) == 1 and all(len(sites.studies_in(c)) > 1 for c in CITIES[1:])
    names = {site[1] for _, site in sites.sites if site[1]}
    for city in CITIES:
        assert [n for n in names if _folded(city) in _folded(n)] == [city]


@pytest.mark.parametrize("city", CITIES)
def test_locations_in_a_city(server, city):
    name, base = server
    if not SEARCHES[name]:
        assert_not_supported(base, "Location", {"address-city": city}, "address-city")
        return
    locations = matches(search(base, "Location", {"address-city": city}))
    assert {location["address"]["city"] for location in locations} == {city}
    assert len(locations) == raw().places_in(city)


@pytest.mark.parametrize("city", CITIES)
def test_studies_with_a_site_in_a_city(server, city):
    """The two steps a hospital takes: the Locations in the city, then the studies at any of them."""
    name, base = server
    expected = raw().studies_in(city)
    if not SEARCHES[name]:
        (study,) = matches(search(base, "ResearchStudy", {"_id": sorted(expected)[0]}))
        sites = ",".join(site["reference"] for site in study["site"])
        assert_not_supported(base, "ResearchStudy", {"site": sites}, "site")
        return
    locations = matches(search(base, "Location", {"address-city": city}))
    sites = ",".join(f"Location/{location['id']}" for location in locations)
    assert nct_numbers(matches(search(base, "ResearchStudy", {"site": sites}))) == expected


@pytest.mark.parametrize("city", CITIES)
def test_studies_with_a_site_in_a_city_in_one_chained_search(server, city):
    name, base = server
    if not SEARCHES[name]:
        assert_not_supported(base, "ResearchStudy", {"site.address-city": city}, "site")
        return
    assert nct_numbers(matches(search(base, "ResearchStudy", {"site.address-city": city}))) == raw().studies_in(city)


def test_medplum_matches_a_city_anywhere_in_the_name_and_ignores_exact(medplum_server):
    """FHIR string search matches the start of a name, and ``:exact`` the whole of it; the Medplum engine
    the tests run (its in-memory repository) matches anywhere in the name, with or without ``:exact``:
    "New York" also finds the sites in "New York City". A client that needs one city compares the
    Locations' ``address.city`` itself."""
    names = {site[1] for _, site in raw().sites if site[1] and "new york" in site[1].casefold()}
    assert names == {"New York", "New York City"}
    for parameter in ("address-city", "address-city:exact"):
        locations = matches(search(medplum_server, "Location", {parameter: "New York"}))
        cities = defaultdict(int)
        for location in locations:
            cities[location["address"]["city"]] += 1
        assert set(cities) == {"New York", "New York City"}
        assert cities["New York"] == raw().places_in("New York")
