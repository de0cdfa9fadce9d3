"""A site as the website's CSV exports write it, ``Facility, City, State, Zip, Country`` with the empty
parts left out, split back into its parts.

Facility names, a few cities and a few country names hold commas themselves, and a left-out part leaves
no trace, so a split is made only where the text shows which part is which. Read from the right: the
country (names with a comma are known), a postal code (digits, no lower-case word), then state and city.
A United States site always names one of the states. Elsewhere a state is recognised by name (the
first-level divisions registrations name most), by a word (``Province``, ``Region``) or as a code
(``ON``, ``MB``); where no state is named, the part before the city must name an institution
(``Hospital``, ``Universit...``). Any other site keeps the text not placed as its facility, and the
caller reports it: a part is never dropped, and never guessed into a field.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ClinicalTrials.gov country names (present and past) that contain ", ".
_COMMA_COUNTRIES = {
    name.casefold(): name
    for name in (
        "Korea, Republic of",
        "Korea, Democratic People's Republic of",
        "Iran, Islamic Republic of",
        "Congo, The Democratic Republic of the",
        "Moldova, Republic of",
        "Macedonia, The Former Yugoslav Republic of",
        "Micronesia, Federated States of",
        "Tanzania, United Republic of",
        "Virgin Islands, U.S.",
        "Virgin Islands, British",
        "Palestinian Territory, occupied",
        "Palestine, State of",
        "Venezuela, Bolivarian Republic of",
        "Bolivia, Plurinational State of",
        "Taiwan, Province of China",
        "Saint Helena, Ascension and Tristan da Cunha",
        "Bonaire, Sint Eustatius and Saba",
    )
}

# First-level divisions by country, as registrations spell them. Names shared with a city (Beijing,
# Berlin, Madrid, Osaka, Sao Paulo) are left out: the same text could be either, so it decides nothing.
_DIVISIONS = {
    country: frozenset(name.casefold() for name in names.split("|"))
    for country, names in {
        "United States": "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
        "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|"
        "Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
        "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|"
        "Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|District of Columbia|"
        "Puerto Rico|Guam|Virgin Islands|American Samoa|Northern Mariana Islands",
        "Canada": "Alberta|British Columbia|Manitoba|New Brunswick|Newfoundland and Labrador|Newfoundland|"
        "Nova Scotia|Ontario|Prince Edward Island|Quebec|Québec|Saskatchewan|Northwest Territories|Nunavut|Yukon",
        "Australia": "New South Wales|Queensland|South Australia|Tasmania|Victoria|Western Australia|"
        "Australian Capital Territory|Northern Territory",
        "China": "Anhui|Fujian|Gansu|Guangdong|Guangxi|Guizhou|Hainan|Hebei|Heilongjiang|Henan|Hubei|Hunan|"
        "Inner Mongolia|Jiangsu|Jiangxi|Liaoning|Ningxia|Qinghai|Shaanxi|Shandong|Shanxi|Sichuan|Tibet|Xinjiang|"
        "Yunnan|Zhejiang",
        "India": "Andhra Pradesh|Assam|Bihar|Chhattisgarh|Goa|Gujarat|Haryana|Himachal Pradesh|Jharkhand|Karnataka|"
        "Kerala|Madhya Pradesh|Maharashtra|Odisha|Orissa|Punjab|Rajasthan|Tamil Nadu|Telangana|Uttar Pradesh|"
        "Uttarakhand|West Bengal",
        "Germany": "Baden-Württemberg|Baden-Wuerttemberg|Bavaria|Bayern|Hesse|Hessen|Lower Saxony|Niedersachsen|"
        "Mecklenburg-Vorpommern|North Rhine-Westphalia|Nordrhein-Westfalen|Rhineland-Palatinate|Rheinland-Pfalz|"
        "Saarland|Saxony|Sachsen|Saxony-Anhalt|Sachsen-Anhalt|Schleswig-Holstein|Thuringia|Thüringen",
        "Italy": "Abruzzo|Apulia|Puglia|Basilicata|Calabria|Campania|Emilia-Romagna|Friuli-Venezia Giulia|Lazio|"
        "Liguria|Lombardy|Lombardia|Marche|Molise|Piedmont|Piemonte|Sardinia|Sardegna|Sicily|Sicilia|Tuscany|"
        "Toscana|Trentino-Alto Adige|Umbria|Veneto|Aosta Valley|Valle d'Aosta",
        "Spain": "Andalusia|Andalucía|Aragon|Aragón|Asturias|Balearic Islands|Islas Baleares|Canary Islands|"
        "Canarias|Cantabria|Castilla y León|Castile and León|Castilla-La Mancha|Catalonia|Cataluña|Catalunya|"
        "Comunidad Valenciana|Valencian Community|Extremadura|Galicia|La Rioja|Navarra|Navarre|País Vasco|"
        "Basque Country|Comunidad de Madrid|Community of Madrid",
        "France": "Île-de-France|Ile-de-France|Ile de France|Auvergne-Rhône-Alpes|Provence-Alpes-Côte d'Azur|"
        "Occitanie|Nouvelle-Aquitaine|Hauts-de-France|Grand Est|Bretagne|Brittany|Normandie|Normandy|"
        "Pays de la Loire|Centre-Val de Loire|Bourgogne-Franche-Comté",
        "United Kingdom": "England|Scotland|Wales|Northern Ireland|Greater London|Greater Manchester",
        "Brazil": "Acre|Alagoas|Amapá|Amazonas|Bahia|Ceará|Ceara|Distrito Federal|Espírito Santo|Goiás|Goias|"
        "Maranhão|Mato Grosso|Mato Grosso do Sul|Minas Gerais|Pará|Paraíba|Paraná|Parana|Pernambuco|Piauí|"
        "Rio Grande do Norte|Rio Grande do Sul|Rondônia|Roraima|Santa Catarina|Sergipe|Tocantins",
        "Japan": "Aichi|Ehime|Gunma|Hokkaido|Hyogo|Ibaraki|Ishikawa|Iwate|Kagawa|Kanagawa|Mie|Miyagi|Shiga|"
        "Shimane|Tochigi|Yamanashi",
    }.items()
}
_STATE_WORD = re.compile(
    r"\b(?:province|provincia|municipality|region|région|regione|región|prefecture|oblast|krai|kray|voivodeship|"
    r"canton|kanton|autonomous|state)\b|\w-do$",
    re.IGNORECASE,
)
_STATE_CODE = re.compile(r"^[A-Z]{2,3}$")
_INSTITUTION = re.compile(
    r"\b(?:hospitals?|hospitaal|hôpital|hopital|hôpitaux|hospices|hospitalier|ospedale|ospedali|ospedaliera|"
    r"ospedaliero|policlinico|sanatorio|klinik\w*|clinic|clinics|clinica|clínica|clinique|universit\w*|universidad\w*|univ|institut\w*|"
    r"istituto|centers?|centres?|centro|centrum|zentrum|medical|medicine|research|site|foundation|fondazione|"
    r"fundaci[oó]n|stiftung|laborator\w*|department|dept|division|service|unit|inc|llc|ltd|gmbh|college|school|"
    r"hochschule|faculty|academ\w*|oncology|hematology|cancer|health|healthcare|azienda|irccs|chu|chru|nhs|trust|"
    r"practice|associates|physicians|specialists|krankenhaus|spital|praxis|ziekenhuis|sjukhus|szpital|"
    r"nemocnice|hastanesi|investigat\w*|local institution|crs|pharma\w*)\b|\b[a-z]+\d+\b",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"[a-zß-ÿ]{2}")  # two lower-case letters: a word, which a postal code does not hold
_INITIALS = re.compile(r"^(?:[A-Z]\.){2,3}$")

Place = tuple[str | None, str | None, str | None, str | None, str | None]  # facility, city, state, zip, country


@lru_cache(maxsize=65536)  # the same sites recur in study after study
def split_location(text: str) -> tuple[Place, bool]:
    """``Facility, City, State, Zip, Country`` → its parts, and whether the split is certain. When it is
    not, the parts that could not be placed are kept, joined as they came, as the facility."""
    parts = [part for part in (p.strip() for p in text.split(", ")) if part]
    if not parts:
        return (None, None, None, None, None), False
    country: str | None = None
    if len(parts) >= 2 and (known := _COMMA_COUNTRIES.get(f"{parts[-2]}, {parts[-1]}".casefold())):
        country = known
        del parts[-2:]
    elif len(parts) >= 2 and not parts[-1][:1].islower() and not parts[-1].endswith((" of", " of the")):
        country = parts.pop()  # a fragment of a country name ("Islamic Republic of") is not a country
    zip_code = parts.pop() if parts and _is_postal_code(parts[-1]) else None
    if country is None or not parts:
        return (", ".join(parts) or None, None, None, zip_code, country), False
    parts = _join_initials(parts)
    placed = _facility_city_state(parts, country)
    if placed is None:
        return (", ".join(parts), None, None, zip_code, country), False
    facility, city, state = placed
    return (facility, city, state, zip_code, country), True


def _join_initials(parts: list[str]) -> list[str]:
    """Initials belong to the part before them: ``Bogota, D.C.``, ``Texas Oncology, P.A.``."""
    joined: list[str] = []
    for part in parts:
        if joined and _INITIALS.match(part):
            joined[-1] = f"{joined[-1]}, {part}"
        else:
            joined.append(part)
    return joined


def _is_postal_code(part: str) -> bool:
    return any(ch.isdigit() for ch in part) and not _LOWER_WORD.search(part)


def _facility_city_state(parts: list[str], country: str) -> tuple[str | None, str, str | None] | None:
    """Facility, city and state from what precedes the postal code, or None when not certain."""
    last = parts[-1]
    named_state = last.casefold() in _DIVISIONS.get(country, ())
    if country == "United States":  # every United States site names its state
        return _with_state(parts) if named_state else None
    if len(parts) == 1:  # a site always has a city
        return None, last, None
    facility_before = bool(_INSTITUTION.search(parts[-2]))
    if named_state or _STATE_CODE.match(last) or _STATE_WORD.search(last):
        return None if facility_before else _with_state(parts)  # both readings fit: not certain
    return (", ".join(parts[:-1]), last, None) if facility_before else None


def _with_state(parts: list[str]) -> tuple[str | None, str, str | None] | None:
    """``[facility..., city, state]``: the state is known, the city is the part before it."""
    *rest, state = parts
    if not rest:
        return None
    city = rest.pop()
    return ", ".join(rest) or None, city, state
