"""SAS XPORT v5 holds ASCII only: text is transliterated ("≥" → ">=", "µ" → "u", full-width → ASCII),
and every character changed is returned so the run report can list it."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_BY_HAND = {
    "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "±": "+/-", "∓": "-/+", "×": "x", "÷": "/",
    "µ": "u", "μ": "u", "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"',
    "…": "...", "•": "*", "·": ".", "°": " degrees", "→": "->", "←": "<-", "®": "(R)", "™": "(TM)", "©": "(C)",
    "\u00a0": " ", "\u200b": "", "\ufeff": "",
}  # fmt: skip
_NON_ASCII = re.compile("[^\x00-\x7f]")


def transliterate(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` in ASCII and the (original, replacement) pairs used; what has no ASCII form becomes "?"."""
    if text.isascii():
        return text, []
    changes: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        replacement = _replacement(char)
        changes.append((char, replacement))
        return replacement

    return _NON_ASCII.sub(replace, text), changes


@lru_cache(maxsize=4096)
def _replacement(char: str) -> str:
    replacement = _BY_HAND.get(char)
    if replacement is None:
        folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", char))
        replacement = "".join(c for c in folded if c.isascii() and not unicodedata.combining(c)) or "?"
    return replacement
