"""The TI (Trial Inclusion/Exclusion Criteria) rows of one trial: one row per criterion, inclusion first.

IETESTCD numbers each kind in order (INCL01, INCL02, ..., EXCL01); more than 99 of a kind widens the
number for every row of the study (INCL001 ...) so codes still sort, and the prefix gives way to stay within
8 characters. IETEST is the criterion's text as the trial holds it (sub-items on their own lines); the XPT
rules are applied later, in ``dataset.ti_dataset``. IESCAT, TIRL and TIVERS are left empty: a registry
record carries no sub-categories, no executable rules and no protocol version of its criteria.
"""

from __future__ import annotations

from typing import Any

from trialport.model import Trial

VARIABLES = {  # SDTMIG 3.4 order and labels
    "STUDYID": "Study Identifier",
    "DOMAIN": "Domain Abbreviation",
    "IETESTCD": "Incl/Excl Criterion Short Name",
    "IETEST": "Inclusion/Exclusion Criterion",
    "IECAT": "Inclusion/Exclusion Category",
    "IESCAT": "Inclusion/Exclusion Subcategory",
    "TIRL": "Inclusion/Exclusion Criterion Rule",
    "TIVERS": "Protocol Criteria Versions",
}
CATEGORIES = (("INCLUSION", "INCL"), ("EXCLUSION", "EXCL"))


def criterion_codes(prefix: str, count: int) -> list[str]:
    """``count`` IETESTCD values: ``INCL01``..``INCL99``, then as many digits as ``count`` needs (``INCL001``),
    the prefix shortened so that a code never passes 8 characters (``INC10000``)."""
    digits = max(2, len(str(count)))
    if digits > 7:
        raise ValueError(f"{count} criteria of one kind cannot be numbered within 8 characters")
    head = prefix[: 8 - digits]
    return [f"{head}{number:0{digits}d}" for number in range(1, count + 1)]


def ti_rows(trial: Trial) -> list[dict[str, Any]]:
    """The TI rows of ``trial``: its inclusion criteria, then its exclusion criteria (none when the block
    was not split into items)."""
    eligibility = trial.eligibility
    if eligibility is None:
        return []
    rows = []
    for (category, prefix), items in zip(CATEGORIES, (eligibility.inclusion, eligibility.exclusion), strict=True):
        for code, text in zip(criterion_codes(prefix, len(items)), items, strict=True):
            rows.append(
                {
                    "STUDYID": trial.id,
                    "DOMAIN": "TI",
                    "IETESTCD": code,
                    "IETEST": text,
                    "IECAT": category,
                    "IESCAT": "",
                    "TIRL": "",
                    "TIVERS": "",
                }
            )
    return rows
