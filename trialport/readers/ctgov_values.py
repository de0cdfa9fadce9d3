"""ClinicalTrials.gov values as older formats print them, made API v2 values.

The legacy XML, the classic API and the CSV exports say ``Phase 1/Phase 2``, ``Parallel Assignment``,
``None (Open Label)``, ``March 1, 2017``; the canonical model holds the API v2 enumerations
(``PHASE1``, ``PARALLEL``, ``NONE``) and ISO 8601 dates.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

# Display strings whose API v2 value is not simply the upper-snake-cased text.
_SPECIAL = {
    "N/A": "NA",
    "PARALLEL ASSIGNMENT": "PARALLEL",
    "SINGLE GROUP ASSIGNMENT": "SINGLE_GROUP",
    "CROSSOVER ASSIGNMENT": "CROSSOVER",
    "FACTORIAL ASSIGNMENT": "FACTORIAL",
    "SEQUENTIAL ASSIGNMENT": "SEQUENTIAL",
    "NONE (OPEN LABEL)": "NONE",
    "UNKNOWN STATUS": "UNKNOWN",
    "EDUCATIONAL/COUNSELING/TRAINING": "ECT",
    "BOTH": "ALL",
    "ANTICIPATED": "ESTIMATED",
    "ESTIMATE": "ESTIMATED",
}
_NON_WORD = re.compile(r"[^A-Z0-9]+")
_MASKING_DETAIL = re.compile(r"^(NONE|SINGLE|DOUBLE|TRIPLE|QUADRUPLE)\b")
_OBSERVATIONAL = re.compile(r"^OBSERVATIONAL\b")


def enum(text: str | None) -> str | None:
    """``Active, not recruiting`` → ``ACTIVE_NOT_RECRUITING``; API v2 values pass through unchanged."""
    return _enum_cached(text) if type(text) is str else _enum(text)


def _enum(text: str | None) -> str | None:
    if not text or not text.strip() or text.strip().lower() == "null":
        return None
    upper = text.strip().upper()
    if upper in _SPECIAL:
        return _SPECIAL[upper]
    if masking := _MASKING_DETAIL.match(upper):  # "Double (Participant, Investigator)" → DOUBLE
        return masking.group(1)
    if _OBSERVATIONAL.match(upper):  # "Observational [Patient Registry]" → OBSERVATIONAL
        return "OBSERVATIONAL"
    return _NON_WORD.sub("_", upper).strip("_")


_enum_cached = lru_cache(maxsize=4096)(_enum)  # an enumeration has few values; each recurs in every record


_PHASE = re.compile(r"(early\s*phase\s*1|phase\s*[1-4]|phase\s*i{1,3}v?|n/?a|not applicable)", re.IGNORECASE)
_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}
_API_PHASE = re.compile(r"(EARLY_PHASE1|PHASE[1-4]|NA)")
_SPACE_RUN = re.compile(r"\s+")


def phases(text: str | list[str] | None) -> list[str]:
    """``Phase 1/Phase 2`` or ``PHASE1|PHASE2`` or ``["Phase 1"]`` → ``["PHASE1", "PHASE2"]``."""
    items = text if isinstance(text, list) else [text or ""]
    found: list[str] = []
    for item in items:
        if _API_PHASE.fullmatch(item.strip()):
            value = item.strip()
            if value not in found:
                found.append(value)
            continue
        for match in _PHASE.finditer(item):
            token = _SPACE_RUN.sub("", match.group(1).upper())
            if token.startswith("EARLY"):
                value = "EARLY_PHASE1"
            elif token.startswith("PHASE"):
                number = token[5:]
                value = "PHASE" + _ROMAN.get(number, number)
            else:
                value = "NA"
            if value not in found:
                found.append(value)
    return found


_DATE_FORMATS = (("%B %d, %Y", "%Y-%m-%d"), ("%B %Y", "%Y-%m"), ("%b %d, %Y", "%Y-%m-%d"), ("%b %Y", "%Y-%m"))
_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def iso_date(text: str | None) -> str | None:
    """``March 1, 2017`` → ``2017-03-01``, ``March 2017`` → ``2017-03``; ISO dates keep their precision.
    A date that cannot be read is None (the caller records a diagnostic with the text)."""
    return _iso_date_cached(text) if type(text) is str else _iso_date(text)


def _iso_date(text: str | None) -> str | None:
    if not text or not text.strip() or text.strip().lower() == "null":
        return None
    text = text.strip()
    if _ISO_DATE.match(text):
        return text
    for pattern, output in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).strftime(output)
        except ValueError:
            continue
    return None


_iso_date_cached = lru_cache(maxsize=4096)(_iso_date)  # dates recur across records


def yes_no(text: str | bool | None) -> bool | None:
    """``Yes``/``No``, ``Accepts Healthy Volunteers``, or a JSON boolean."""
    if isinstance(text, bool) or text is None:
        return text
    lowered = text.strip().lower()
    if lowered in ("yes", "true", "accepts healthy volunteers"):
        return True
    if lowered in ("no", "false"):
        return False
    return None


def age(text: str | None) -> str | None:
    """``18 Years`` stays; ``N/A`` and empty are no limit (None)."""
    if not text or text.strip().upper() in ("N/A", "NA", "NULL", ""):
        return None
    return " ".join(text.split())


def nonempty(text: str | None) -> str | None:
    """Empty strings and the legacy exports' literal ``null`` are absent values."""
    if text is None:
        return None
    text = text.strip()
    return None if not text or text.lower() == "null" else text


def as_int(value: str | int | None) -> int | None:
    if isinstance(value, int):
        return value
    value = nonempty(value)
    try:
        return int(value.replace(",", "")) if value else None
    except ValueError:
        return None
