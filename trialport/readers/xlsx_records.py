"""The Sites, People, References and Eligibility sheets of the endpoints workbook, read back into a trial's
locations, contacts, officials, references, links and eligibility criteria.

A row's hidden key (``NCT…#s2.1``: site 2, its contact 1; ``#c1``, ``#o1``: contact and official 1;
``#r1``, ``#l1``: reference and link 1) puts it back in its place whatever order the rows are in now.
A row without a key is new: on Sites it joins the trial's site whose columns it repeats exactly, or,
with the other new rows of the same columns, makes a new site. Rows of one site that disagree on a site
column keep the value of the site's first row, and the trial carries a warning naming both rows.
Eligibility rows are put in order by the order column within their kind (a row moved to the other kind goes
where its number says; ties, and rows without a number, after, in row order); an "unsplit" row gives back the
block it holds, never an item. A row that cannot be taken is rejected with its sheet and row; the rest is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from trialport.exporters.xlsx import (
    CRITERIA_KINDS,
    EXCLUSION,
    INCLUSION,
    LINK,
    PEOPLE_KINDS,
    REFERENCE_TYPES,
    SITE_STATUSES,
    UNSPLIT,
)
from trialport.model import Diagnostic
from trialport.readers.base import Rejection
from trialport.readers.ctgov_values import enum

Rows = list[tuple[int, dict[str, Any]]]
Full = Callable[[str, str, str, Any], str | None]  # (sheet, key, column, cell) -> the text, Overflow parts put back
_SITE_KEY = re.compile(r"(.+#s(\d+))(?:\.(\d+))?")
_KEY = re.compile(r".+#[a-z](\d+)")
_LAST = math.inf  # where a row without a key (or a number) goes: after the others, in row order


class BadRow(ValueError):
    """Why a row cannot be taken."""


def text(value: Any) -> str | None:
    """A cell as text: None when blank, a whole number without ".0" (Excel keeps numbers as floats)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    found = str(value).strip()
    return found or None


def _number(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value.strip() if isinstance(value, str) else value)
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError):
        raise BadRow(f"{column} {value!r} is not a number") from None
    return number


def _geo(row: dict[str, Any]) -> dict[str, float] | None:
    lat, lon = _number(row, "latitude"), _number(row, "longitude")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise BadRow("a latitude needs a longitude, and a longitude a latitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRow(f"latitude {lat:g}, longitude {lon:g} is not a place on Earth")
    return {"lat": lat, "lon": lon}


def _status(row: dict[str, Any]) -> str | None:
    status = enum(text(row.get("status")))  # "Recruiting" and RECRUITING alike
    if status is not None and status not in SITE_STATUSES:
        raise BadRow(f"status {row.get('status')!r} is not a site status ({', '.join(SITE_STATUSES)})")
    return status


def _order(key: str | None) -> float:
    match = _KEY.fullmatch(key or "")
    return int(match.group(1)) if match else _LAST


def _trial(row: dict[str, Any], trials: dict[str, dict[str, Any]]) -> dict[str, Any]:
    trial = trials.get(text(row.get("trial id")) or "")
    if trial is None:
        raise BadRow(f"trial id {text(row.get('trial id'))!r} is not on the Trials sheet")
    return trial


def read_sites(rows: Rows, trials: dict[str, dict[str, Any]], full: Full, path: str) -> Iterator[Rejection]:
    """Each trial's ``locations`` from the Sites rows, sites and their contacts in key order."""
    keyed: dict[tuple[str, str], list[tuple[float, int, dict[str, Any], dict[str, Any] | None]]] = {}
    new: list[tuple[int, str, dict[str, Any], dict[str, Any] | None]] = []
    for number, row in rows:
        key = text(row.get("key")) or ""
        try:
            trial_id = text(row.get("trial id")) or ""
            _trial(row, trials)
            site = {
                "facility": full("Sites", key, "facility", row.get("facility")),
                "status": _status(row),
                "city": full("Sites", key, "city", row.get("city")),
                "state": full("Sites", key, "state", row.get("state")),
                "zip": text(row.get("zip")),
                "country": full("Sites", key, "country", row.get("country")),
                "geo": _geo(row),
            }
        except BadRow as bad:
            yield Rejection(path, f"Sites row {number}", str(bad))
            continue
        person = {
            "name": full("Sites", key, "contact name", row.get("contact name")),
            "role": enum(text(row.get("contact role"))),
            "phone": text(row.get("phone")),
            "email": text(row.get("e-mail")),
        }
        contact = person if any(person.values()) else None
        match = _SITE_KEY.fullmatch(key)
        if match:
            place = float(match.group(3)) if match.group(3) else _LAST
            keyed.setdefault((trial_id, match.group(1)), []).append((place, number, site, contact))
        else:
            new.append((number, trial_id, site, contact))

    # (trial id, (site number, first row), site columns, contacts), and which site a row of given columns joins
    sites: list[tuple[str, tuple[float, int], dict[str, Any], list[dict[str, Any]]]] = []
    same: dict[tuple[str, tuple], list[dict[str, Any]]] = {}
    for (trial_id, site_key), members in keyed.items():
        members.sort(key=lambda m: (m[0], m[1]))
        _, first, site, _ = members[0]
        for _, number, other, _ in members[1:]:
            _conflicts(trials[trial_id], site_key, first, site, number, other)
        order = (float(site_key.rsplit("#s", 1)[1]), first)
        sites.append((trial_id, order, site, [contact for *_, contact in members if contact]))
    sites.sort(key=lambda s: s[1])
    for trial_id, _, site, contacts in sites:
        same.setdefault((trial_id, _columns(site)), contacts)  # the first of identical sites
    for number, trial_id, site, contact in new:  # rows without a key, in row order
        contacts = same.get((trial_id, _columns(site)))
        if contacts is None:
            contacts = same[(trial_id, _columns(site))] = []
            sites.append((trial_id, (_LAST, number), site, contacts))
        if contact:
            contacts.append(contact)
    for trial_id, _, site, contacts in sites:
        trials[trial_id]["locations"].append({**site, "contacts": contacts})


def _columns(site: dict[str, Any]) -> tuple:
    geo = site["geo"]
    return (*(v for k, v in site.items() if k != "geo"), geo and (geo["lat"], geo["lon"]))


def _conflicts(
    trial: dict[str, Any], site_key: str, first: int, site: dict[str, Any], number: int, other: dict[str, Any]
) -> None:
    for column, value in site.items():
        if other[column] != value:
            trial["diagnostics"].append(
                Diagnostic(
                    level="warning",
                    code="site-rows-differ",
                    field=f"locations.{column}",
                    message=f"Sites rows {first} and {number} are one site ({site_key}) but differ in {column}: "
                    f"{value!r} (row {first}) kept, {other[column]!r} (row {number}) not",
                )
            )


def read_people(rows: Rows, trials: dict[str, dict[str, Any]], full: Full, path: str) -> Iterator[Rejection]:
    """Each trial's central ``contacts`` and ``officials`` from the People rows, in key order."""
    found: list[tuple[float, int, dict[str, Any], str, dict[str, Any]]] = []
    for number, row in rows:
        key = text(row.get("key")) or ""
        kind = (text(row.get("kind")) or "").lower()
        person = {
            "name": full("People", key, "name", row.get("name")),
            "role": enum(text(row.get("role"))),
            "affiliation": full("People", key, "affiliation", row.get("affiliation")),
            "phone": text(row.get("phone")),
            "email": text(row.get("e-mail")),
        }
        try:
            trial = _trial(row, trials)
            if kind not in PEOPLE_KINDS:
                raise BadRow(f"kind {text(row.get('kind')) or ''!r} is not contact or official")
            if kind == "official":
                if not person["name"]:
                    raise BadRow("an official without a name")
                if person["phone"] or person["email"]:
                    raise BadRow("an official has no phone or e-mail (a contact has): make the row a contact")
                del person["phone"], person["email"]
            else:
                if person["affiliation"]:
                    raise BadRow("a contact has no affiliation (an official has): make the row an official")
                del person["affiliation"]
        except BadRow as bad:
            yield Rejection(path, f"People row {number}", str(bad))
            continue
        if any(person.values()):
            found.append((_order(key), number, trial, "contacts" if kind == "contact" else "officials", person))
    for _, _, trial, field, person in sorted(found, key=lambda f: (f[0], f[1])):
        trial[field].append(person)


def read_references(rows: Rows, trials: dict[str, dict[str, Any]], full: Full, path: str) -> Iterator[Rejection]:
    """Each trial's ``references`` and ``links`` from the References rows, in key order. A row of type LINK,
    or without a type and a PMID but with a url, is a web link."""
    found: list[tuple[float, int, dict[str, Any], str, dict[str, Any]]] = []
    for number, row in rows:
        key = text(row.get("key")) or ""
        kind, pmid, url = enum(text(row.get("type"))), text(row.get("PMID")), text(row.get("url"))
        words = full("References", key, "citation / label", row.get("citation / label"))
        try:
            trial = _trial(row, trials)
            if kind is not None and kind not in REFERENCE_TYPES:
                raise BadRow(f"type {row.get('type')!r} is not {', '.join(REFERENCE_TYPES)}")
            if kind == LINK or (kind is None and url and not pmid):
                if not url:
                    raise BadRow("a link without a url")
                if pmid:
                    raise BadRow("a link has no PMID (a reference has): give the row a reference type")
                field, item = "links", {"label": words, "url": url}
            else:
                if url:
                    raise BadRow("a reference has no url (a link has): give the row the type LINK")
                if not pmid and not words:
                    raise BadRow("a reference without a PMID or a citation")
                field, item = "references", {"pmid": pmid, "citation": words, "type": kind}
        except BadRow as bad:
            yield Rejection(path, f"References row {number}", str(bad))
            continue
        found.append((_order(key), number, trial, field, item))
    for _, _, trial, field, item in sorted(found, key=lambda f: (f[0], f[1])):
        trial[field].append(item)


def _place(value: Any) -> float:
    """The order column as a number to sort by; anything else (blank, a word) goes last."""
    if isinstance(value, bool) or value is None:
        return _LAST
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return _LAST
    return number if math.isfinite(number) else _LAST


def read_eligibility(rows: Rows, trials: dict[str, dict[str, Any]], full: Full, path: str) -> Iterator[Rejection]:
    """Each trial's ``eligibility.inclusion`` and ``.exclusion`` from the Eligibility rows, and the block of an
    "unsplit" row as ``eligibility.criteria`` (two different blocks, as the same study from two input files
    gives, are joined and the trial says so). A row repeated exactly is one criterion."""
    found: dict[str, tuple[list, list, list[tuple[int, str]]]] = {}
    seen: set[tuple[str, str, str, str]] = set()
    for number, row in rows:
        key = text(row.get("key")) or ""
        kind = (text(row.get("kind")) or "").lower()
        try:
            _trial(row, trials)
            if kind not in CRITERIA_KINDS:
                raise BadRow(f"kind {text(row.get('kind')) or ''!r} is not {', '.join(CRITERIA_KINDS)}")
            criterion = full("Eligibility", key, "criterion", row.get("criterion"))
            if not criterion:
                raise BadRow("empty criterion")
        except BadRow as bad:
            yield Rejection(path, f"Eligibility row {number}", str(bad))
            continue
        trial_id = text(row.get("trial id")) or ""
        criterion = criterion.replace("\r\n", "\n")
        if key and (trial_id, key, kind, criterion) in seen:
            continue
        seen.add((trial_id, key, kind, criterion))
        inclusion, exclusion, blocks = found.setdefault(trial_id, ([], [], []))
        if kind == UNSPLIT:
            if all(criterion != block for _, block in blocks):
                blocks.append((number, criterion))
        else:
            (inclusion if kind == INCLUSION else exclusion).append((_place(row.get("order")), number, criterion))
    for trial_id, (inclusion, exclusion, blocks) in found.items():
        fields = trials[trial_id]
        if len(blocks) > 1:
            fields["diagnostics"].append(
                Diagnostic(
                    level="warning",
                    code="criteria-blocks-joined",
                    field="eligibility.criteria",
                    message=f"Eligibility rows {', '.join(str(n) for n, _ in blocks)} each hold a block for this "
                    "trial (unsplit): joined in row order, a blank line between them",
                )
            )
        fields["eligibility"] = {
            **(fields["eligibility"] or {}),
            INCLUSION: [criterion for *_, criterion in sorted(inclusion)],
            EXCLUSION: [criterion for *_, criterion in sorted(exclusion)],
            "criteria": "\n\n".join(block for _, block in blocks) or None,
        }
