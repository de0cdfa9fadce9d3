"""Render API v2 studies into the seed text layout, the way the seed documents were made.

Rules (DESIGN.md): one field per line in the layout's order, empty fields dropped, lists joined by
``|``, outcomes ``measure, description, time frame``, and the whole document double-encoded (UTF-8
read as cp1252). Line breaks inside a single-line field become spaces: one field per line.
"""

from __future__ import annotations


def _line(text: str | None) -> str:
    return " ".join((text or "").split())


def _outcomes(outcomes: list[dict]) -> str:
    return "|".join(
        ", ".join(x for x in (_line(o.get("measure")), _line(o.get("description")), _line(o.get("timeFrame"))) if x)
        for o in outcomes
    )


def fields(study: dict) -> dict[str, str]:
    """The layout's seven fields, in order, as they are written (empty ones included)."""
    p = study.get("protocolSection", {})
    description = p.get("descriptionModule", {})
    outcomes = p.get("outcomesModule", {})
    return {
        "title": _line(p.get("identificationModule", {}).get("briefTitle")),
        "summary": (description.get("briefSummary") or "").strip(),
        "conditions": "|".join(_line(c) for c in p.get("conditionsModule", {}).get("conditions", [])),
        "interventions": "|".join(
            f"{i.get('type')}: {_line(i.get('name'))}"
            for i in p.get("armsInterventionsModule", {}).get("interventions", [])
        ),
        "primary": _outcomes(outcomes.get("primaryOutcomes", [])),
        "secondary": _outcomes(outcomes.get("secondaryOutcomes", [])),
        "description": (description.get("detailedDescription") or "").strip(),
    }


def render(study: dict) -> bytes:
    """The study as a seed-layout document, mojibake included."""
    return mojibake("\n".join(f for f in fields(study).values() if f))


def mojibake(text: str) -> bytes:
    """UTF-8 bytes as a cp1252 reader would have shown them, saved again as UTF-8."""
    # Bytes cp1252 leaves undefined come through as the C1 control of the same number.
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8")).encode("utf-8")
