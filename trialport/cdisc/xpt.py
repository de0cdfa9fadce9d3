"""SAS XPORT v5 (SAS technical note TS-140), written directly: one member, character and numeric variables.

The file is a run of 80-byte records: the library header, the member header and descriptor, one 140-byte
namestr per variable, then the observations back to back, each run padded with blanks to a whole record.
Numbers are IBM System/360 doubles; character values are ASCII, blank-padded to the variable's length.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

RECORD = 80
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi52s")
_MISSING = b"." + bytes(7)  # SAS's standard missing value "."


def _header(kind: str, numbers: str = "0" * 30) -> str:
    return f"HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{numbers}  "


def sas_datetime(moment: datetime) -> str:
    """``ddMMMyy:hh:mm:ss``, the 16-character timestamp of XPORT headers (month in English, whatever the locale)."""
    return f"{moment.day:02d}{_MONTHS[moment.month - 1]}{moment.year % 100:02d}:{moment:%H:%M:%S}"


def ibm_double(value: float | None) -> bytes:
    """``value`` as an 8-byte IBM hexadecimal float: sign bit, 7-bit excess-64 power of 16, 56-bit fraction.

    Every IEEE double's 53-bit significand fits the fraction exactly (at most 3 bits go to aligning the
    exponent to a power of 16), so nothing is rounded. None and NaN are SAS's missing value."""
    if value is None or math.isnan(value):
        return _MISSING
    if value == 0:
        return bytes(8)
    if math.isinf(value):
        raise ValueError("SAS XPORT cannot hold an infinite number")
    fraction, exponent = math.frexp(abs(value))  # abs(value) = fraction * 2**exponent, 0.5 <= fraction < 1
    power16 = -(-exponent // 4)  # ceil(exponent / 4)
    mantissa = int(math.ldexp(fraction, 56 - (4 * power16 - exponent)))
    biased = power16 + 64
    if biased > 127:
        raise ValueError(f"{value!r} is too large for an IBM double")
    if biased < 0:
        return bytes(8)  # smaller than IBM's smallest number (16**-65): zero, as SAS stores it
    return ((0x80 if value < 0 else 0) | biased).to_bytes(1, "big") + mantissa.to_bytes(7, "big")


@lru_cache(maxsize=4096)
def _number_text(value: float | None) -> str:
    """An IBM double as 8 latin-1 characters, so that an observation can be built as one string."""
    return ibm_double(value).decode("latin-1")


def check_names(columns: Sequence[str], labels: Mapping[str, str]) -> None:
    """XPORT v5's own limits: ASCII names of 1 to 8 characters, ASCII labels of at most 40."""
    _check_names(tuple(columns), tuple(labels.get(name, "") for name in columns))


@lru_cache(maxsize=256)
def _check_names(columns: tuple[str, ...], labels: tuple[str, ...]) -> None:
    for name, label in zip(columns, labels, strict=True):
        if not (0 < len(name) <= 8 and name.isascii() and len(label) <= 40 and label.isascii()):
            raise ValueError(f"XPT variable {name!r} or its label is too long for SAS XPORT v5")


def xpt_bytes(
    variables: Sequence[tuple[str, str, Sequence[Any]]],
    created: datetime,
    *,
    name: str = "TS",
    label: str = "",
) -> bytes:
    """One dataset as an XPORT v5 file. ``variables``: (name, label, values) each, all with as many values;
    values are all str (a character variable, as long as its longest value, at least 1) or all int, float
    or None (numeric)."""
    check_names([name], {name: label})
    columns = [variable[0] for variable in variables]
    labels = {variable[0]: variable[1] for variable in variables}
    check_names(columns, labels)
    if len({len(variable[2]) for variable in variables}) > 1:
        raise ValueError("XPT variables must all have the same number of values")
    numeric, lengths, cells = [], [], []
    for column, _, values in variables:
        kinds = set(map(type, values))
        if kinds <= {str}:
            if not "".join(values).isascii():
                raise ValueError(f"XPT variable {column!r}: SAS XPORT v5 holds ASCII text only")
            numeric.append(False)
            lengths.append(max(1, max(map(len, values), default=1)))
            cells.append(values)
        elif kinds <= {int, float, type(None)}:
            numeric.append(True)
            lengths.append(8)
            cells.append(tuple(map(_number_text, values)))
        else:
            raise ValueError(f"XPT variable {column!r} must hold only text or only numbers")
    stamp = sas_datetime(created)
    head = (
        _header("LIBRARY")
        + f"{'SAS':<8}{'SAS':<8}{'SASLIB':<8}{'6.06':<8}{'bsd4.2':<8}{'':24}{stamp}"
        + f"{stamp}{'':64}"
        + _header("MEMBER", "000000000000000001600000000140")
        + _header("DSCRPTR")
        + f"{'SAS':<8}{name:<8}{'SASDATA':<8}{'6.06':<8}{'bsd4.2':<8}{'':24}{stamp}"
        + f"{stamp}{'':16}{label:<40}{'':8}"
        + _header("NAMESTR", f"000000{len(columns):04d}" + "0" * 20)
    ).encode("ascii")
    namestrs = []
    position = 0
    for number, (column, length, is_number) in enumerate(zip(columns, lengths, numeric, strict=True), 1):
        namestrs.append(_namestr(number, column, labels.get(column, ""), length, is_number, position))
        position += length
    template = _template(tuple(lengths), tuple(numeric))
    observations = "".join(map(template, *cells))  # the columns are of one length (checked above)
    descriptors = _padded(b"".join(namestrs))
    return head + descriptors + _header("OBS").encode("ascii") + _padded(observations.encode("latin-1"))


@lru_cache(maxsize=1024)
def _template(lengths: tuple[int, ...], numeric: tuple[bool, ...]) -> Callable[..., str]:
    """A formatter that lays one observation out: text blank-padded to its length, numbers as they are."""
    fields = (
        f"{{{i}}}" if n else f"{{{i}:<{length}}}" for i, (length, n) in enumerate(zip(lengths, numeric, strict=True))
    )
    return "".join(fields).format


@lru_cache(maxsize=4096)
def _namestr(number: int, name: str, label: str, length: int, is_number: bool, position: int) -> bytes:
    """The 140-byte description of one variable: type, length, number, name, label, no formats, offset."""
    kind, justify = (1, 1) if is_number else (2, 0)
    blank = b"        "
    name_bytes, label_bytes = name.encode("ascii").ljust(8), label.encode("ascii").ljust(40)
    return _NAMESTR.pack(
        kind,
        0,
        length,
        number,
        name_bytes,
        label_bytes,
        blank,
        0,
        0,
        justify,
        b"\0\0",
        blank,
        0,
        0,
        position,
        bytes(52),
    )


def _padded(data: bytes) -> bytes:
    """``data`` blank-padded to a whole number of 80-byte records."""
    return data + b" " * (-len(data) % RECORD)


_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_MISSING_CODES = frozenset(b"._ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def number_from_ibm(word: bytes) -> float | None:
    """An IBM double of 2 to 8 bytes as a float; SAS's missing values (".", "._", ".A" to ".Z") as None."""
    word = word.ljust(8, b"\0")
    if word[0] in _MISSING_CODES and not any(word[1:]):
        return None
    mantissa = int.from_bytes(word[1:], "big")
    value = math.ldexp(mantissa, 4 * ((word[0] & 0x7F) - 64) - 56)
    return -value if word[0] & 0x80 else value


def read_xpt(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """The first dataset of an XPORT v5 file: its variable names and its rows (text without trailing blanks,
    numbers as float, missing numbers as None). Raises ValueError on anything that is not such a file."""
    if not data.startswith(_LIBRARY) or data[3 * RECORD : 3 * RECORD + len(_MEMBER)] != _MEMBER:
        raise ValueError("no SAS XPORT v5 library and member headers")
    member = 3 * RECORD
    size = int(data[member + 74 : member + 78])  # 140, or 136 from VAX/VMS
    namestr_header = member + 4 * RECORD
    if b"NAMESTR HEADER" not in data[namestr_header : namestr_header + RECORD] or size not in (136, 140):
        raise ValueError("no NAMESTR header where XPORT v5 puts it")
    count = int(data[namestr_header + 54 : namestr_header + 58])
    start = namestr_header + RECORD
    variables = []
    for number in range(count):
        record = data[start + number * size : start + (number + 1) * size]
        if len(record) < 88:
            raise ValueError("the file ends inside its variable descriptions")
        kind, _, length, _ = struct.unpack(">hhhh", record[:8])
        (position,) = struct.unpack(">i", record[84:88])
        name = record[8:16].decode("ascii").rstrip()
        if kind not in (1, 2) or length < 1 or position < 0:
            raise ValueError(f"variable {name!r} has an unreadable description")
        variables.append((name, kind == 1, position, length))
    observations = start + -(-count * size // RECORD) * RECORD
    if not data[observations : observations + RECORD].startswith(b"HEADER RECORD*******OBS     HEADER RECORD"):
        raise ValueError("no OBS header after the variable descriptions")
    end = data.find(_MEMBER, observations)
    body = data[observations + RECORD : len(data) if end < 0 else end]
    width = max((position + length for _, _, position, length in variables), default=0)
    rows_count = len(body) // width if width else 0
    while (
        rows_count
        and len(body) - (rows_count - 1) * width < RECORD
        and not body[(rows_count - 1) * width : rows_count * width].strip(b" ")
    ):
        rows_count -= 1  # a blank row inside the final record's padding is padding
    rows = []
    for offset in range(0, rows_count * width, width):
        row: dict[str, Any] = {}
        for name, is_number, position, length in variables:
            cell = body[offset + position : offset + position + length]
            row[name] = number_from_ibm(cell) if is_number else cell.rstrip(b" ").decode("latin-1")
        rows.append(row)
    return [v[0] for v in variables], rows
