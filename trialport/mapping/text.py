"""Text repair shared by every reader: mojibake, markdown escapes, whitespace.

Registry text arrives double-encoded (UTF-8 read as cp1252), with ClinicalTrials.gov's markdown
escapes (``\\>``, ``\\&``) and ragged whitespace. Every reader passes its text through here so the
same source text gives the same canonical text whatever format carried it.
"""

from __future__ import annotations

import re

# cp1252 as browsers and ftfy read it: the five bytes cp1252 leaves undefined map to C1 controls.
_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)}
_ENCODE = {ch: b for b, ch in _CP1252.items()}
_CONT = "".join(re.escape(_CP1252[b]) for b in range(0x80, 0xC0))
# A complete UTF-8 sequence whose bytes were read as cp1252: a lead byte and its continuation bytes.
_MOJIBAKE = re.compile(
    f"[{_CP1252[0xC2]}-{_CP1252[0xDF]}][{_CONT}]"
    f"|[{_CP1252[0xE0]}-{_CP1252[0xEF]}][{_CONT}]{{2}}"
    f"|[{_CP1252[0xF0]}-{_CP1252[0xF4]}][{_CONT}]{{3}}"
)


def _decode_mojibake(match: re.Match[str]) -> str:
    try:
        return bytes(_ENCODE[ch] for ch in match.group()).decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^&~|=$%])")
# Only what needs changing matches (runs of two, or a space that is not " "), so tidy text is cheap.
_SPACES = re.compile(r"[ \t\u00a0\f\v]{2,}|[\t\u00a0\f\v]")
_LINE_SPACES = re.compile(r"[ \t\u00a0\f\v\r\n]{2,}|[\t\u00a0\f\v\r\n]")
_BLANK_LINES = re.compile(r"\n{3,}")
_LEAD_BYTE = re.compile(f"[{_CP1252[0xC2]}-{_CP1252[0xF4]}]")


def _untidy(text: str) -> bool:
    """Whether spacing needs tidying; plain substring tests, so tidy text (most of it) costs little."""
    return "  " in text or "\t" in text or "\r" in text or "\u00a0" in text or "\f" in text or "\v" in text


def repair(text: str) -> str:
    """Undo double encoding (cp1252 mojibake) and markdown escapes; keep everything else as published."""
    if not text.isascii() and _LEAD_BYTE.search(text):  # mojibake needs a lead byte: most text skips the rest
        for _ in range(3):  # text double-encoded twice over needs a second pass
            fixed = _MOJIBAKE.sub(_decode_mojibake, text)
            if fixed == text:
                break
            text = fixed
    if "\\" in text:
        text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    return text


def clean_line(text: str | None) -> str | None:
    """Repaired single-line text: line breaks and runs of spaces become one space. Empty is None."""
    if text is None:
        return None
    text = repair(text)
    if "\n" in text or _untidy(text):
        text = _LINE_SPACES.sub(" ", text)
    return text.strip() or None


def clean_block(text: str | None) -> str | None:
    """Repaired multi-paragraph text: lines kept, spaces around line breaks and runs of blank lines tidied."""
    if text is None:
        return None
    text = repair(text)
    if _untidy(text) or " \n" in text or "\n " in text or "\n\n\n" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _SPACES.sub(" ", text).replace(" \n", "\n").replace("\n ", "\n")
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() or None
