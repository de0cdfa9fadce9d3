"""CAR-T (and CAR-NK) features read from a trial's text, each with the field and words it came from.

Measured against a reading by hand of the 49 CAR trials in tests/data/ctgov/mrd-aml-csv (test_cart.py).

Targets are looked for where a trial names what it is: the title, the interventions and the arms;
the summary and description count only where they say what the CAR is directed at ("targeting
CD19", "anti-CD22", "CD7 CAR"), because background prose mentions other antigens too.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from trialport.mapping.terminology import Antigen, antigens

_CAR = re.compile(r"(?<![A-Za-z])CAR(?![a-z])|\bCART\b|(?i:\bcar[\s-]t\b|chimeric antigen receptor)")
# "CAR33", "CART-123", "CAR.70": a CAR named by the number of its CD antigen
_CAR_NUMBER = re.compile(r"(?<![A-Za-z])CART?[\s.-]?(\d{1,3})(?![\d.]*\s*(?:x|mg|ml|cells/kg))")
_NK = re.compile(
    r"\bCAR[\s-]?NK\b|chimeric antigen receptor[\s-]+(?:modified\s+)?(?:natural killer|NK)\b", re.IGNORECASE
)
_MULTI = (
    ("bispecific", re.compile(r"\bbi-?specific\b", re.IGNORECASE)),
    ("tandem", re.compile(r"\btandem\b", re.IGNORECASE)),
    ("bicistronic", re.compile(r"\bbi-?cistronic\b", re.IGNORECASE)),
    ("dual", re.compile(r"\bdual[\s-]+target(?:ed|ing)?\b|\bdual\s+CAR\b", re.IGNORECASE)),
)
_GENERATION = re.compile(r"\b(second|third|fourth|2nd|3rd|4th)[\s-]+generation\b", re.IGNORECASE)
_GENERATIONS = {"second": "2", "2nd": "2", "third": "3", "3rd": "3", "fourth": "4", "4th": "4"}
_COSTIMULATORY = (
    ("4-1BB", re.compile(r"\b4-?1BB\b|\bCD137\b", re.IGNORECASE)),
    ("CD28", re.compile(r"\bCD28\b")),
    ("OX40", re.compile(r"\bOX-?40\b|\bCD134\b")),
    ("ICOS", re.compile(r"\bICOS\b")),
    ("CD27", re.compile(r"\bCD27\b")),
)
_ORIGIN = (
    ("autologous", re.compile(r"\bautologous\b", re.IGNORECASE)),
    (
        "allogeneic",
        re.compile(r"\ballogeneic\b|\buniversal\s+CAR|\boff-the-shelf\b|\bdonor[\s-]derived\b", re.IGNORECASE),
    ),
)
_VECTOR = (
    ("lentiviral", re.compile(r"\blenti-?vir(?:al|us)\b", re.IGNORECASE)),
    ("retroviral", re.compile(r"\b(?:gamma-?)?retro-?vir(?:al|us)\b", re.IGNORECASE)),
    ("transposon", re.compile(r"\btransposon\b|\bsleeping beauty\b|\bpiggy-?bac\b", re.IGNORECASE)),
    ("mRNA", re.compile(r"\bmRNA\b")),
)
_DIRECTED = r"(?:target(?:ing|ed|s)?|anti-?|directed (?:at|against)|specific (?:for|to)|against|redirected to)"


@cache
def _antigen_patterns() -> tuple[tuple[Antigen, re.Pattern[str], re.Pattern[str]], ...]:
    """Per antigen: any mention, and a mention that says a CAR is directed at it."""
    found = []
    for antigen in antigens():
        names = "|".join(re.escape(n).replace(r"\ ", r"[\s-]?") for n in sorted(antigen.names, key=len, reverse=True))
        # case-insensitive names; what follows may be "CAR" ("CD33CART") but not a digit or a lower-case letter
        mention = re.compile(rf"(?<![A-Za-z0-9])(?i:{names})(?![0-9a-z])")
        directed = re.compile(
            rf"(?i:{_DIRECTED})[\s-]*(?i:{names})(?![0-9a-z])|(?<![A-Za-z0-9])(?i:{names})[\s/&-]*"
            r"(?:CAR|(?i:chimeric antigen receptor|directed|specific|targeted|bispecific))"
        )
        found.append((antigen, mention, directed))
    return tuple(found)


_CAR_T_SPELLED = re.compile(r"ar(?:-t| [Tt])")  # "ar-t", "ar T" or "ar t", in one scan for "ar"


def _may_name_car(text: str) -> bool:
    """A cheap test before the regular expression: most trials never mention a CAR."""
    return "CAR" in text or "himeric" in text or _CAR_T_SPELLED.search(text) is not None


def _snippet(text: str, match: re.Match[str], around: int = 30) -> str:
    start, end = max(0, match.start() - around), min(len(text), match.end() + around)
    return ("..." if start else "") + text[start:end].strip() + ("..." if end < len(text) else "")


def features(fields: dict[str, Any]) -> dict[str, Any] | None:
    """The ``cell_therapy`` part of a trial's fields, or None when it is not a CAR cell therapy."""
    naming = [("title", fields.get("title") or ""), ("official_title", fields.get("official_title") or "")]
    naming += [(f"interventions[{i}]", x.get("name") or "") for i, x in enumerate(fields.get("interventions", []))]
    naming += [(f"arms[{i}]", a.get("label") or "") for i, a in enumerate(fields.get("arms", []))]
    outcomes = [
        (f"outcomes[{i}]", f"{o.get('measure')} {o.get('description') or ''}")
        for i, o in enumerate(fields.get("outcomes", []))
    ]
    # A CAR trial names it where it says what it gives (title, interventions, arms, outcomes); prose
    # alone may only compare ("fewer side effects than CAR-T cells"). The cheap test once over all of
    # them first (a word it looks for cannot span the NUL between two texts): most trials stop there.
    if not _may_name_car("\x00".join([t for _, t in naming] + [t for _, t in outcomes])):
        return None
    car = next(((k, t, m) for k, t in naming + outcomes if _may_name_car(t) and (m := _CAR.search(t))), None)
    if car is None:
        return None
    prose = [(key, fields.get(key) or "") for key in ("brief_summary", "detailed_description")]
    prose += [
        (f"interventions[{i}].description", x.get("description") or "")
        for i, x in enumerate(fields.get("interventions", []))
    ]
    texts = [(k, t) for k, t in naming + prose if t]
    evidence = [{"field": car[0], "text": _snippet(car[1], car[2])}]
    nk = any(_NK.search(t) for _, t in texts if "NK" in t or "atural killer" in t) or re.search(
        r"\bNK[\s-](?i:cells?)\b", fields.get("title") or ""
    )
    modality = "CAR-NK" if nk else "CAR-T"

    targets = []
    lowered = {id(t): t.lower() for _, t in naming + prose}
    for antigen, mention, directed in _antigen_patterns():
        names = antigen.lowered

        def named(text: str, names: tuple[str, ...] = names) -> bool:  # a cheap test before the regex
            return any(n in lowered[id(text)] for n in names)

        hit = next(((k, t, m) for k, t in naming if t and named(t) and (m := mention.search(t))), None)
        hit = hit or next(((k, t, m) for k, t in prose if t and named(t) and (m := directed.search(t))), None)
        if hit:
            targets.append(antigen)
            evidence.append({"field": hit[0], "text": _snippet(hit[1], hit[2])})
    by_name = {name.upper(): antigen for antigen in antigens() for name in antigen.names}
    for key, text in naming:
        for m in _CAR_NUMBER.finditer(text):
            antigen = by_name.get(f"CD{m.group(1)}")
            if antigen and antigen not in targets:
                targets.append(antigen)
                evidence.append({"field": key, "text": _snippet(text, m)})

    def first(options: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
        for value, pattern in options:
            for key, text in texts:
                if m := pattern.search(text):
                    evidence.append({"field": key, "text": _snippet(text, m)})
                    return value
        return None

    multi = (first(_MULTI) or "multiple") if len(targets) > 1 else None
    generation = None
    for key, text in texts:
        if m := _GENERATION.search(text):
            generation = _GENERATIONS[m.group(1).lower()]
            evidence.append({"field": key, "text": _snippet(text, m)})
            break
    costimulatory = []
    for name, pattern in _COSTIMULATORY:
        for key, text in texts:
            if m := pattern.search(text):
                costimulatory.append(name)
                evidence.append({"field": key, "text": _snippet(text, m)})
                break
    return {
        "modality": modality,
        "targets": [a.coding for a in targets],
        "multi_target": multi,
        "generation": generation,
        "costimulatory": costimulatory,
        "origin": first(_ORIGIN),
        "vector": first(_VECTOR),
        "evidence": evidence,
    }
