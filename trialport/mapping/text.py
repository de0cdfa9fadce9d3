"""Text repair shared by every reader: mojibake, markdown escapes, whitespace.

Registry text arrives double-encoded (UTF-8 read as cp1252), with ClinicalTrials.gov's markdown
escapes (``\\>``, ``\\&``) and ragged whitespace. Every reader passes its text through here so the
same source text gives the same canonical text whatever format carried it.
"""

from __future__ import annotations

import re
from operator import itemgetter

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


# A lead byte followed by a continuation byte (as cp1252 characters): how every _MOJIBAKE match begins.
# Searched for in the text's UTF-8, where each lead character (U+00C2-U+00F4) is C3 xx and C3 begins
# nothing else: text without a C3 byte (nearly all) is ruled out by one fast byte search.
_MOJIBAKE_START = re.compile(
    b"(?:"
    + b"|".join(re.escape(_CP1252[b].encode("utf-8")) for b in range(0xC2, 0xF5))
    + b")(?:"
    + b"|".join(re.escape(_CP1252[b].encode("utf-8")) for b in range(0x80, 0xC0))
    + b")"
)


def _decode_mojibake(match: re.Match[str]) -> str:
    try:
        return bytes(_ENCODE[ch] for ch in match.group()).decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^&~|=$%])")
_ESCAPED = itemgetter(1)  # match[1], the escaped character: a C callable, where r"\1" is a Python call per match
_BLANK_LINES = re.compile(r"\n{3,}")
# Spacing is tidied with str methods (each a fast scan of the text), where a regular expression would
# try a match at every space: every one of these characters becomes a space, then runs of spaces one.
_ODD_SPACES = ("\t", "\u00a0", "\f", "\v")
_LINE_SPACES = (*_ODD_SPACES, "\r", "\n")


def _untidy(text: str) -> bool:
    """Whether spacing needs tidying; plain substring tests, so tidy text (most of it) costs little."""
    return "  " in text or "\t" in text or "\r" in text or "\u00a0" in text or "\f" in text or "\v" in text


def _one_space(text: str, spaces: tuple[str, ...]) -> str:
    """Every run of spaces and ``spaces`` made a single space."""
    for space in spaces:
        if space in text:
            text = text.replace(space, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def _undo_mojibake(text: str) -> str:
    for _ in range(3):  # text double-encoded twice over needs a second pass
        fixed = _MOJIBAKE.sub(_decode_mojibake, text)
        if fixed == text:
            break
        text = fixed
    return text


def _may_be_mojibake(text: str) -> bool:
    """Whether ``text`` has a lead byte followed by a continuation byte (see _MOJIBAKE_START)."""
    if text.isascii():
        return False
    encoded = text.encode("utf-8", "surrogatepass")  # a lone surrogate (ED xx xx) matches nothing
    return b"\xc3" in encoded and _MOJIBAKE_START.search(encoded) is not None


def repair(text: str) -> str:
    """Undo double encoding (cp1252 mojibake) and markdown escapes; keep everything else as published."""
    if _may_be_mojibake(text):
        text = _undo_mojibake(text)
    if "\\" in text:
        text = _MARKDOWN_ESCAPE.sub(_ESCAPED, text)
    return text


def clean_line(text: str | None) -> str | None:
    """Repaired single-line text: line breaks and runs of spaces become one space. Empty is None."""
    if text is None:
        return None
    # repair(text), inline: this runs some thirty times a record, mostly on short text needing nothing
    if _may_be_mojibake(text):
        text = _undo_mojibake(text)
    if "\\" in text:
        text = _MARKDOWN_ESCAPE.sub(_ESCAPED, text)
    # printable text has no line breaks, tabs or odd spaces: one test rules out all but a double space
    if (not text.isprintable() or "  " in text) and ("\n" in text or _untidy(text)):
        text = _one_space(text, _LINE_SPACES)
    return text.strip() or None


def clean_block(text: str | None, indented: bool = False) -> str | None:
    """Repaired multi-paragraph text: lines kept, spaces around line breaks and runs of blank lines tidied.
    ``indented``: each line's leading spaces are kept (a nested list's depth, in criteria blocks)."""
    if text is None:
        return None
    # repair(text), inline
    if _may_be_mojibake(text):
        text = _undo_mojibake(text)
    if "\\" in text:
        text = _MARKDOWN_ESCAPE.sub(_ESCAPED, text)
    # Each run of spaces (tabs, no-break spaces, ...) becomes one space, or none where it touches a line
    # break; three or more line breaks become two. Line by line, with str methods: long text scanned a
    # few times in C, where regular expressions would try a match at every space.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for space in _ODD_SPACES:
        if space in text:
            text = text.replace(space, " ")
    if indented:
        return _indented(text)
    if "\n" in text:
        text = "\n".join([part.strip(" ") for part in text.split("\n")])
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    while "  " in text:
        text = text.replace("  ", " ")
    return text.strip() or None


def _indented(text: str) -> str | None:
    """``clean_block`` keeping each line's indentation (less the block's common indentation)."""
    lines = []
    for part in text.split("\n"):
        body = part.strip(" ")
        while "  " in body:
            body = body.replace("  ", " ")
        lines.append((len(part) - len(part.lstrip(" ")), body))
    common = min((lead for lead, body in lines if body), default=0)
    text = "\n".join(" " * (lead - common) + body if body else "" for lead, body in lines).strip("\n")
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text or None
