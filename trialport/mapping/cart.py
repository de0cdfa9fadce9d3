"""CAR-T (and CAR-NK, CAR-NKT, TCR-T, CAR-M) features read from a trial's text, each with the field and words
it came from.

Measured against readings by hand of CAR trials in tests/data (test_cart.py, tests/data/cart-*labels.csv).

Products named by INN, brand or code name (``data/cell_products.csv``: "Yescarta", "KTE-C19") give
their INN, modality and targets even where the trial never says "CAR"; an INN of the CAR stem
(``-cabtagene ...leucel``) not in the table still gives CAR-T (``-tresgene ...leucel``: TCR-T).

Targets are looked for where a trial names what it is: the title, the interventions and the arms;
the summary and description count only where they say what the CAR is directed at ("targeting
CD19", "anti-CD22", "CD7 CAR"), because background prose mentions other antigens too.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib.resources import files
from typing import Any

from trialport.mapping.terminology import Antigen, antigens

_CAR = re.compile(
    r"(?<![A-Za-z])CAR(?![a-z]|E)|\bCART\b|(?<=[a-z])CAR(?:[\s-]?T\b)|\bU?CART(?=\d|\b)|\bUCAR-T\b|\bSTAR-T\b"
    r"|(?i:\bcar[\s-]t\b|chimeric antigen receptor|chimeric (?:T[\s-]cell|immune|antigen) receptors?)"
    r"|\b[A-Za-z]+-CIR\b|\b\dSCAR"
)
# "CD19-CD22 targeted T cells", "GD2-specific NKT cells", "CD22 Redirected Autologous T Cells", "Anti-Human
# CD70 T-Cell Injection": a cell therapy named by what it is directed at. "HER2-specific T cells" or
# "CMV-specific T cells" may be grown from the patient's own (vaccine- or virus-primed): not engineered.
_DIRECTED_CELLS = re.compile(
    r"\b(?:CD\d{1,3}[a-z]?|[A-Z][A-Za-z0-9]*[A-Z0-9][\w.]*|[A-Z][a-z]{3,})[\s/-]*(?:(?i:targeted|targeting|directed|redirected)"
    r"[\s-]+(?:(?i:autologous|allogeneic|human|engineered|modified)\s+)?(?:CAR[\s-]*)?(?:NKT|NK|T)"
    r"|(?i:specific)[\s-]+(?:CAR[\s-]*)?NKT?)[\s-]?(?i:cells?)\b"
    r"|\b(?i:anti)-(?:(?i:human)[\s-]+)?(?:CD\d{1,3}[a-z]?|[A-Z][A-Za-z0-9-]*[A-Z0-9])\s+(?:T[\s-]?)?(?i:cells?)\b"
)
_NKT = re.compile(r"\bNKT[\s-]?cells?\b|\bCAR[\s-]?NKT\b", re.IGNORECASE)
# "T Cell Receptor Gene Transduced ... T Lymphocytes", "T Cell Receptor-transduced T Cells", "Expressing NY-ESO-1
# TCR": T cells given an engineered T-cell receptor (TCR-T), named where the trial says what it gives
_TCR_CELLS = re.compile(
    r"\b(?:TCR|T[\s-]cell[\s-]receptor)[\s-]+(?:gene[\s-]+)?(?:transduced|engineered|modified|transfected)\b"
    r"|\bTCR\)?[\s-]?T\b|\bTCR[\s-]+cells?\b"
    r"|\b(?:expressing|transduced with)\s+(?:an?\s+)?(?:[\w-]+\s+)?(?:TCRs?\b|T[\s-]cell receptors?\b)",
    re.IGNORECASE,
)
# "CD4+ and CD8+ CAR-T cells", "CD4/CD8 ratio", "CD4:CD8": the cells' composition, not an antigen targeted
_COMPOSITION = re.compile(
    r"\bCD([48])\s*\+?\s*(?:/|:|,|&|\band\b|\bor\b|-)\s*CD(?!\1)[48]\b\s*\+?|\bCD[48]\s*(?:\+|positive)(?=[\s-]*(?:and|T\b|CAR|cells?))",
    re.IGNORECASE,
)
# "truncated CD19", "CD19t", "EGFRt", "tEGFR": a marker the cells carry (to track or deplete them), not a target
_MARKER = re.compile(r"\btruncated\s+(?:human\s+)?(?:CD19|EGFR)\b|\b(?:hu)?(?:CD19|EGFR)t\b|\bt(?:CD19|EGFR)\b", re.I)
# "CD22 CAR T-cells ... Following Commercial CD19 CAR T-cells": a CAR given before, not this trial's
_BEFORE = re.compile(
    r"\b(?:following|after|prior|previous(?:ly)?|post)[\s-]+(?:(?:commercial|prior|previous|failed|approved)\s+)*"
    r"(?:anti-)?[A-Za-z0-9]+[\s-]*CAR\b",
    re.IGNORECASE,
)
# "CAR33", "CART-123", "CAR.70": a CAR named by the number of its CD antigen (not "CAR-4-1BB": a domain)
_CAR_NUMBER = re.compile(
    r"(?<![A-Za-z])(?:\dS)?CART?[\s.-]?(\d{1,3})(?:/(\d{1,3}))?(?![\d.]*\s*(?:x|mg|ml|cells/kg)|-1BB)"
)
_CAR_M = re.compile(
    r"\bCAR[\s-]?M\b|\bCAR[\s-]?macrophages?\b|chimeric antigen receptor[\s-]+(?:modified\s+)?macrophages?",
    re.IGNORECASE,
)
# "CD3-CD20 Bispecific Antibody", "anti-PD-1 antibody": an antibody given with the cells; its antigen is not theirs
_ANTIBODY = re.compile(
    r"(?:\b[\w-]+[\s/-]+)?\b[\w-]+[\s-]+(?:bis+pecific[\s-]+|monoclonal[\s-]+)?"
    r"(?:antibod(?:y|ies)|T[\s-]cell engagers?)\b",
    re.IGNORECASE,
)
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
_DIRECTED = (
    r"(?:target(?:ing|ed|s)?|anti-?|directed (?:at|against)|specific (?:for|to)|against|redirected to"
    r"|recogni[sz]ing|CAR-)"
)


@cache
def _antigen_patterns() -> tuple[tuple[Antigen, re.Pattern[str], re.Pattern[str]], ...]:
    """Per antigen: any mention, and a mention that says a CAR is directed at it."""
    found = []
    for antigen in antigens():
        names = "|".join(
            re.escape(n).replace(r"\ ", r"[\s-]?").replace(r"\-", r"[\s-]?")
            for n in sorted(antigen.names, key=len, reverse=True)
        )
        # case-insensitive names; what follows may be "CAR" ("CD33CART") but not a digit or a lower-case letter
        mention = re.compile(rf"(?<![A-Za-z0-9])(?i:{names})(?![0-9a-z])")
        directed = re.compile(
            rf"(?i:{_DIRECTED})[\s-]*(?i:{names})(?![0-9a-z])|(?<![A-Za-z0-9])(?i:{names})[\s/&-]*"
            r"(?:CAR|(?i:chimeric antigen receptor|directed|specific|targeted|bispecific))"
        )
        found.append((antigen, mention, directed))
    return tuple(found)


_STEM = re.compile(r"\b([a-z]+?(cabtagene|tresgene))\s+([a-z]+leucel)\b", re.IGNORECASE)
_STEM_MODALITY = {"cabtagene": "CAR-T", "tresgene": "TCR-T"}
_SEPARATOR = re.compile(r"[\s-]+")


def _fold(name: str) -> str:
    """A name as matched: lower case, hyphens and spaces removed ("KTE-C19", "kte c19" → "ktec19")."""
    return _SEPARATOR.sub("", name.casefold())


def _trie_pattern(names: list[str]) -> str:
    """One regular expression for many names, as a trie (shared prefixes tried once): the scan costs
    about as much for a hundred names as for one. Where a name has a space, any run of spaces and hyphens may stand."""
    trie: dict[str, Any] = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def walk(node: dict[str, Any]) -> str:
        branches = [(r"[\s-]+" if c == " " else re.escape(c)) + walk(child) for c, child in node.items() if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return walk(trie)


@cache
def products() -> tuple[re.Pattern[str], dict[str, dict[str, Any]]]:
    """The product table (``data/cell_products.csv``) by folded name, and one word-bounded pattern for all of it."""
    by_key = {a.key: a for a in antigens()}
    table: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    with files("trialport.mapping").joinpath("data", "cell_products.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            product = {
                "name": row["name"],
                "targets": [by_key[t] for t in row["targets"].split("|") if t],
                "modality": row["modality"],
                "origin": row["origin"] or None,
            }
            for name in [row["name"], *row["aliases"].split("|")]:
                if name.strip():
                    table[_fold(name)] = product
                    names.append(name)
    # Each name as written and without its hyphens and spaces ("KTE-C19", "KTE C19", "KTEC19").
    spelled = {_SEPARATOR.sub(" ", n.casefold()) for n in names} | set(table)
    pattern = re.compile(r"(?<![A-Za-z0-9])(?i:" + _trie_pattern(sorted(spelled)) + r")(?![A-Za-z0-9]|/\d)")
    _NAMES[:] = names
    return pattern, table


_NAMES: list[str] = []


def _names() -> list[str]:
    products()
    return _NAMES


_TOKEN = re.compile(r"[a-z0-9]+")
_SPACES = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})


@cache
def _first_words() -> frozenset[str]:
    """The first word of every name: a text none of whose words is one names no product (a set
    lookup per word, far cheaper than running the pattern over every summary)."""
    return frozenset(_TOKEN.match(_SEPARATOR.sub(" ", n.casefold())).group() for n in _names())


def _products_in(text: str) -> list[tuple[dict[str, Any], re.Match[str]]]:
    """Products named in a text: from the table, else an INN of the CAR (or TCR) stem."""
    pattern, table = products()
    found = []
    if not _first_words().isdisjoint(text.lower().translate(_SPACES).split()):
        found = [(table[_fold(m.group())], m) for m in pattern.finditer(text)]
    if "gene" in text:
        for m in _STEM.finditer(text):
            if _fold(m.group()) not in table and m.group(2).lower() in _STEM_MODALITY:
                inn = f"{m.group(1).lower()} {m.group(3).lower()}"
                found.append(
                    ({"name": inn, "targets": [], "modality": _STEM_MODALITY[m.group(2).lower()], "origin": None}, m)
                )
    return found


_CAR_T_SPELLED = re.compile(r"ar(?:-t| [Tt])")  # "ar-t", "ar T" or "ar t", in one scan for "ar"


def _may_name_car(text: str) -> bool:
    """A cheap test before the regular expression: most trials never mention a CAR."""
    return (
        "CAR" in text
        or "himeric" in text
        or "-CIR" in text
        or "STAR-T" in text
        or _CAR_T_SPELLED.search(text) is not None
    )


def _snippet(text: str, match: re.Match[str], around: int = 30) -> str:
    start, end = max(0, match.start() - around), min(len(text), match.end() + around)
    return ("..." if start else "") + text[start:end].strip() + ("..." if end < len(text) else "")


_CELLS = re.compile(r"\bcells?\b|\blymphocytes?\b|\bCTLs?\b|\bNK\b", re.IGNORECASE)


# Given around a CAR-T product, not a cell therapy: toxicity prophylaxis or treatment, lymphodepletion
_AROUND = re.compile(
    r"\b(?:anakinra|kineret|tocilizumab|actemra|siltuximab|defibrotide|dexamethasone|methylprednisolone|emapalumab|"
    r"ruxolitinib|itacitinib|fludarabine|cyclophosphamide|bendamustine|vaccines?|placebo|levetiracetam|IVIG|"
    r"immunoglobulins?|immune globulin)\b",
    re.IGNORECASE,
)
# What a trial whose title names it before the cells is about ("Anakinra in Preventing ...", "Bridging
# Radiation ... for Commercial CAR T-Cell Infusion", "IVIG for Infection Prevention After CAR-T-Cell
# Therapy", "... Telemonitoring in Chimeric Antigen Receptor (CAR-T) Therapy", "Long-term Follow-up of ...")
_AROUND_FIRST = re.compile(
    r"\b(?:anakinra|kineret|tocilizumab|actemra|siltuximab|defibrotide|emapalumab|ruxolitinib|itacitinib|"
    r"levetiracetam|IVIG|immunoglobulins?|immune globulin|radiation|radiotherapy|(?:tele)?monitoring|"
    r"follow-?up|registry|wearables?)\b",
    re.IGNORECASE,
)
_NOT_A_PRODUCT_TYPE = {"procedure", "behavioral", "diagnostic_test", "device", "other", "radiation"}


def _role(fields: dict[str, Any], title: str) -> str:
    """``background`` when the trial is about something given around the cell therapy: its title (else
    what stands for it) names such a thing before the cells (``_AROUND_FIRST``), or every intervention is
    one (a lymphodepletion drug, imaging, a questionnaire); else ``product``: an intervention is a cell
    therapy (its name or other names say CAR, a product or cells) or may be one (a code name: "BG1805",
    "AMG 553"), or none is listed."""
    first = _AROUND_FIRST.search(title)
    if first and not any(m.start() < first.start() for m in (_CAR.search(title), _CELLS.search(title)) if m):
        return "background"
    interventions = fields.get("interventions") or []
    if not interventions:
        return "product"
    pattern, _ = products()
    around = 0
    for x in interventions:
        names = [x.get("name") or "", *(x.get("other_names") or [])]
        if any(_CAR.search(t) or _CELLS.search(t) or pattern.search(t) or _STEM.search(t) for t in names):
            return "product"
        kind = str(x.get("type") or "").lower()
        around += bool(_AROUND.search(names[0])) or kind.rsplit(".", 1)[-1] in _NOT_A_PRODUCT_TYPE
    return "background" if around == len(interventions) else "product"


def _squeezed(text: str) -> str:
    """Lower case without spaces and hyphens: a cheap test for an antigen's name however it is spaced."""
    return text.lower().replace(" ", "").replace("-", "")


def _not_targets(text: str) -> str:
    """``text`` with what names an antigen but is no target blanked: the cells' composition, a marker, an
    antibody given with them, a CAR given before."""
    if "CD" in text or "EGFR" in text:
        text = _MARKER.sub(" ", _COMPOSITION.sub(" ", text))
    if "ntibod" in text or "ngager" in text:
        text = _ANTIBODY.sub(" ", text)
    return _BEFORE.sub(" ", text) if "CAR" in text else text


def features(fields: dict[str, Any]) -> dict[str, Any] | None:
    """The ``cell_therapy`` part of a trial's fields, or None when it is not a CAR (or named cell) therapy."""
    interventions = fields.get("interventions") or []
    naming = [("title", fields.get("title") or ""), ("official_title", fields.get("official_title") or "")]
    naming += [(f"interventions[{i}]", x.get("name") or "") for i, x in enumerate(interventions)]
    naming += [(f"arms[{i}]", a.get("label") or "") for i, a in enumerate(fields.get("arms", []))]
    if not any(t for _, t in naming):  # a record cut down to its summary says there what it gives
        naming = [("brief_summary", fields.get("brief_summary") or fields.get("detailed_description") or "")]
    outcomes = [
        (f"outcomes[{i}]", f"{o.get('measure')} {o.get('description') or ''}")
        for i, o in enumerate(fields.get("outcomes", []))
    ]
    listed = [
        (f"interventions[{i}].other_names", "; ".join(x.get("other_names") or [])) for i, x in enumerate(interventions)
    ]
    listed += [("conditions", "; ".join(c.get("name") or "" for c in fields.get("conditions") or []))]
    listed += [("keywords", "; ".join(fields.get("keywords") or []))]
    # Products by name wherever the trial says what it gives or is about (one trie scan a text).
    named: list[tuple[str, str, dict[str, Any], re.Match[str]]] = []
    for key, text in naming + listed:
        if text:
            named += [(key, text, product, m) for product, m in _products_in(text)]
    # A CAR trial names it where it says what it gives (title, interventions, arms, outcomes); prose
    # alone may only compare ("fewer side effects than CAR-T cells"). The cheap test once over all of
    # them first (a word it looks for cannot span the NUL between two texts): most trials stop there.
    car = None
    if _may_name_car("\x00".join([t for _, t in naming] + [t for _, t in outcomes])):
        car = next(((k, t, m) for k, t in naming + outcomes if _may_name_car(t) and (m := _CAR.search(t))), None)
    named_text = "\x00".join(t for _, t in naming)
    if car is None and "cell" in named_text.lower():
        car = next(((k, t, m) for k, t in naming if (m := _DIRECTED_CELLS.search(t))), None)
    tcr = None
    if car is None and ("TCR" in named_text or "eceptor" in named_text):
        car = tcr = next(((k, t, m) for k, t in naming if (m := _TCR_CELLS.search(t))), None)
    prose = [(key, fields.get(key) or "") for key in ("brief_summary", "detailed_description")]
    prose += [(f"interventions[{i}].description", x.get("description") or "") for i, x in enumerate(interventions)]
    if car is None and not named:
        return None
    # Once the trial is a cell therapy's, the products its brief summary and intervention descriptions
    # name count too (not looked for in the summaries of the other 95% of trials, nor in the detailed
    # description, often pages long); where no intervention is a cell therapy, the role says the trial
    # is about something around it (``_role``).
    for key, text in prose:
        if text and key != "detailed_description":
            named += [(key, text, product, m) for product, m in _products_in(text)]
    texts = [(k, t) for k, t in naming + prose if t]
    evidence = [{"field": car[0], "text": _snippet(car[1], car[2])}] if car else []
    found: dict[str, dict[str, Any]] = {}
    for key, text, product, m in named:
        if product["name"] not in found:
            found[product["name"]] = product
            evidence.append({"field": key, "text": _snippet(text, m)})

    modality = "CAR-T"
    if any(_CAR_M.search(t) for _, t in naming if "CAR" in t or "himeric" in t):
        modality = "CAR-M"
    elif any(_NK.search(t) for _, t in texts if "NK" in t or "atural killer" in t) or re.search(
        r"\bNK[\s-](?i:cells?)\b", fields.get("title") or ""
    ):
        modality = "CAR-NK"
    elif any(_NKT.search(t) for k, t in naming if "NKT" in t):
        modality = "CAR-NKT"
    elif tcr is not None:
        modality = "TCR-T"
    elif found and (car is None or len({p["modality"] for p in found.values()}) == 1):
        modality = next(iter(found.values()))["modality"]  # "CAR2BRAIN" says CAR; NK-92/5.28.z says which

    # What the cells are made of ("CD4+ and CD8+ CAR-T cells"), the markers they carry ("EGFRt"), an antibody
    # given with them and a CAR given before ("following CD19 CAR-T") are not what they are directed at.
    naming_clean = [(k, _not_targets(t)) for k, t in naming]
    prose_clean = [(k, _not_targets(t)) for k, t in prose]
    # A product with known targets says what it is directed at; the text's other antigens then count
    # only where it says a cell is directed at them ("after anti-CD38 therapy" is not a target).
    by_product = [a for p in found.values() for a in p["targets"]]
    targets: list[Antigen] = []
    from_prose: list[tuple[Antigen, tuple[str, str, re.Match[str]]]] = []
    lowered = {id(t): _squeezed(t) for _, t in naming_clean + prose_clean}
    for antigen, mention, directed in _antigen_patterns():
        names = antigen.lowered

        def said(text: str, names: tuple[str, ...] = names) -> bool:  # a cheap test before the regex
            return any(n in lowered[id(text)] for n in names)

        hit = None
        if not by_product:
            hit = next(((k, t, m) for k, t in naming_clean if t and said(t) and (m := mention.search(t))), None)
        hit = hit or next(((k, t, m) for k, t in naming_clean if t and said(t) and (m := directed.search(t))), None)
        if hit:
            targets.append(antigen)
            evidence.append({"field": hit[0], "text": _snippet(hit[1], hit[2])})
        elif hit := next(((k, t, m) for k, t in prose_clean if t and said(t) and (m := directed.search(t))), None):
            from_prose.append((antigen, hit))
    # The summary says what the cells are directed at only where the title and interventions do not:
    # where they do, its other antigens are background ("CD19-targeted CAR-T can re-induce remissions").
    if not targets and not by_product:
        for antigen, hit in from_prose:
            targets.append(antigen)
            evidence.append({"field": hit[0], "text": _snippet(hit[1], hit[2])})
    by_name = {name.upper(): antigen for antigen in antigens() for name in antigen.names}
    for key, text in naming:
        for m in _CAR_NUMBER.finditer(text):
            for number in filter(None, m.groups()):
                antigen = by_name.get(f"CD{number}")
                if antigen and antigen not in targets:
                    targets.append(antigen)
                    evidence.append({"field": key, "text": _snippet(text, m)})
    targets += [a for a in dict.fromkeys(by_product) if a not in targets]

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
    origins = {p["origin"] for p in found.values()} - {None}
    return {
        "modality": modality,
        "products": list(found),
        "role": _role(fields, naming[0][1]),
        "targets": [a.coding for a in targets],
        "multi_target": multi,
        "generation": generation,
        "costimulatory": costimulatory,
        "origin": first(_ORIGIN) or (origins.pop() if len(origins) == 1 else None),
        "vector": first(_VECTOR),
        "evidence": evidence,
    }
