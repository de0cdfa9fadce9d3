"""What changed in a trial's sites (and their contacts), central contacts, officials, references, links and
eligibility criteria.

Two lists pair in rounds, each round on what is left: items equal in full, then items equal in what
names them (a site's facility and address, a person's name and role; a criterion's text, in its kind or
moved to the other), then items alike enough to be the same one edited (the same facility in the same
country; the same name or e-mail; a criterion's text mostly the same). What pairs is compared field by
field; the rest was added or removed. A criterion is named by its kind and place ("exclusion criterion 2").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from difflib import SequenceMatcher
from typing import Any, NamedTuple, TypeVar

from trialport.model import Contact, Eligibility, Link, Location, Official, Reference, Trial

T = TypeVar("T")
Item = tuple[str, str, str | None, str | None]  # (added | removed | changed, what, before, after)
Test = Callable[[Any, Any], bool]


def _pairs(before: Sequence[T], after: Sequence[T], tests: Sequence[Test]) -> Iterator[tuple[T | None, T | None]]:
    left, right = list(before), list(after)
    for test in (lambda x, y: x == y, *tests):
        for item in list(left):
            match = next((other for other in right if test(item, other)), None)
            if match is not None:
                left.remove(item)
                right.remove(match)
                yield item, match
    for item in left:
        yield item, None
    for item in right:
        yield None, item


def _similar(a: str | None, b: str | None) -> bool:
    return bool(a and b) and SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.6  # type: ignore[union-attr]


def _shown(value: Any) -> str | None:
    return None if value is None else str(value)


def _changes(
    old: Any, new: Any, names: Sequence[str], what: str, values: Callable[[Any], dict[str, Any]] | None = None
) -> Iterator[Item]:
    before, after = (values(old), values(new)) if values else (old.model_dump(), new.model_dump())
    for name in names:
        if before[name] != after[name]:
            yield "changed", f"{what} {name}", _shown(before[name]), _shown(after[name])


def _site_name(site: Location) -> str:
    parts = (site.facility, site.city, site.zip, site.country)
    return ", ".join(part for part in parts if part) or "(a site without a name)"


def _site_values(site: Location) -> dict[str, Any]:
    geo = site.geo
    values = site.model_dump(exclude={"geo", "contacts"})
    return values | {"latitude": geo.lat if geo else None, "longitude": geo.lon if geo else None}


def _address(site: Location) -> tuple:
    return (site.facility, site.city, site.state, site.zip, site.country)


SITE_TESTS: tuple[Test, ...] = (
    lambda a, b: _address(a) == _address(b),
    lambda a, b: (
        a.country == b.country and (a.facility == b.facility or (a.city == b.city and _similar(a.facility, b.facility)))
    ),
)
SITE_FIELDS = ("facility", "status", "city", "state", "zip", "country", "latitude", "longitude")


def _person(contact: Contact) -> str:
    name = contact.name or contact.email or contact.phone or "(a contact without a name)"
    return f"{name} ({contact.role})" if contact.role else name


CONTACT_TESTS: tuple[Test, ...] = (
    lambda a, b: a.name == b.name and a.role == b.role,
    lambda a, b: (a.name is not None and a.name == b.name) or (a.email is not None and a.email == b.email),
)
CONTACT_FIELDS = ("name", "role", "phone", "email")


def _sites(before: list[Location], after: list[Location]) -> Iterator[Item]:
    for old, new in _pairs(before, after, SITE_TESTS):
        if new is None:
            yield "removed", "site", _site_name(old), None  # type: ignore[arg-type]
        elif old is None:
            yield "added", "site", None, _site_name(new)
        else:
            where = f"site '{_site_name(old)}'"
            yield from _changes(old, new, SITE_FIELDS, where, _site_values)
            yield from _contacts(old.contacts, new.contacts, f"contact at {where}", f"at {where}")


def _contacts(before: list[Contact], after: list[Contact], what: str, where: str = "") -> Iterator[Item]:
    for old, new in _pairs(before, after, CONTACT_TESTS):
        if new is None:
            yield "removed", what, _person(old), None  # type: ignore[arg-type]
        elif old is None:
            yield "added", what, None, _person(new)
        else:
            yield from _changes(old, new, CONTACT_FIELDS, f"contact '{old.name or _person(old)}' {where}".strip())


def _officials(before: list[Official], after: list[Official]) -> Iterator[Item]:
    for old, new in _pairs(before, after, (lambda a, b: a.name == b.name,)):
        if new is None:
            yield "removed", "official", old.name, None  # type: ignore[union-attr]
        elif old is None:
            yield "added", "official", None, new.name
        else:
            yield from _changes(old, new, ("name", "affiliation", "role"), f"official '{old.name}'")


def _cited(reference: Reference) -> str:
    return f"PMID {reference.pmid}" if reference.pmid else (reference.citation or "")[:60]


def _references(before: list[Reference], after: list[Reference]) -> Iterator[Item]:
    tests: tuple[Test, ...] = (
        lambda a, b: a.pmid is not None and a.pmid == b.pmid,
        lambda a, b: a.citation is not None and a.citation == b.citation,
    )
    for old, new in _pairs(before, after, tests):
        if new is None:
            yield "removed", "reference", _cited(old), None  # type: ignore[arg-type]
        elif old is None:
            yield "added", "reference", None, _cited(new)
        else:
            yield from _changes(old, new, ("type", "pmid", "citation"), f"reference {_cited(old)}")


def _links(before: list[Link], after: list[Link]) -> Iterator[Item]:
    tests: tuple[Test, ...] = (lambda a, b: a.url == b.url, lambda a, b: a.label is not None and a.label == b.label)
    for old, new in _pairs(before, after, tests):
        if new is None:
            yield "removed", "link", old.url, None  # type: ignore[union-attr]
        elif old is None:
            yield "added", "link", None, new.url
        else:
            yield from _changes(old, new, ("label", "url"), f"link {old.url}")


class Criterion(NamedTuple):
    kind: str  # inclusion | exclusion
    number: int  # its place in its kind, from 1
    text: str


def _criteria_of(eligibility: Eligibility | None) -> list[Criterion]:
    if eligibility is None:
        return []
    found = [Criterion("inclusion", n, text) for n, text in enumerate(eligibility.inclusion, 1)]
    return found + [Criterion("exclusion", n, text) for n, text in enumerate(eligibility.exclusion, 1)]


CRITERION_TESTS: tuple[Test, ...] = (
    lambda a, b: a.kind == b.kind and a.text == b.text,
    lambda a, b: a.text == b.text,
    lambda a, b: a.kind == b.kind and _similar(a.text, b.text),
    lambda a, b: _similar(a.text, b.text),
)


def _criteria(before: Eligibility | None, after: Eligibility | None) -> Iterator[Item]:
    """Criteria added, removed, edited or moved to the other kind; a criterion only moved within its kind
    (renumbered) is no change."""
    for old, new in _pairs(_criteria_of(before), _criteria_of(after), CRITERION_TESTS):
        if new is None:
            yield "removed", f"{old.kind} criterion {old.number}", old.text, None  # type: ignore[union-attr]
        elif old is None:
            yield "added", f"{new.kind} criterion {new.number}", None, new.text
        else:
            if old.kind != new.kind:
                yield "changed", f"{old.kind} criterion {old.number} kind", old.kind, new.kind
            if old.text != new.text:
                yield "changed", f"{old.kind} criterion {old.number} text", old.text, new.text


def _not_carried(trial: Trial) -> set[str]:
    return {d.field for d in trial.diagnostics if d.code == "not-carried" and d.field}


def record_changes(a: Trial, b: Trial) -> Iterator[Item]:
    """Every change from ``a``'s lists to ``b``'s, but in a list either source says it does not carry."""
    skip = _not_carried(a) | _not_carried(b)
    if "locations" not in skip:
        yield from _sites(a.locations, b.locations)
    if "contacts" not in skip:
        yield from _contacts(a.contacts, b.contacts, "contact")
    if "officials" not in skip:
        yield from _officials(a.officials, b.officials)
    if "references" not in skip:
        yield from _references(a.references, b.references)
    if "links" not in skip:
        yield from _links(a.links, b.links)
    if "eligibility.inclusion" not in skip and "eligibility.exclusion" not in skip:
        yield from _criteria(a.eligibility, b.eligibility)
