"""SAS XPORT v5 (SAS technical note TS-140), written directly: one member, character and numeric variables.

The file is a run of 80-byte records: the library header, the member header and descriptor, one 140-byte
namestr per variable, then the observations back to back, each run padded with blanks to a whole record.
Numbers are IBM System/360 doubles; character values are ASCII, blank-padded to the variable's length.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
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
    """XPORT v5's own limits: ASCII names of at most 8 characters, labels of at most 40."""
    for name in columns:
        label = labels.get(name, "")
        if not (0 < len(name) <= 8 and name.isascii() and len(label) <= 40 and label.isascii()):
            raise ValueError(f"XPT variable {name!r} or its label is too long for SAS XPORT v5")


def xpt_bytes(
    columns: Sequence[str],
    labels: Mapping[str, str],
    rows: Sequence[Sequence[Any]],
    created: datetime,
    *,
    name: str = "TS",
    label: str = "",
) -> bytes:
    """One dataset as an XPORT v5 file. ``rows`` hold values in ``columns`` order: str (character variable)
    or int/float/None (numeric). A character variable is as long as its longest value (at least 1)."""
    check_names([name, *columns], {name: label})
    check_names(columns, labels)
    numeric = [bool(rows) and not isinstance(rows[0][i], str) for i in range(len(columns))]
    lengths = []
    for i, is_number in enumerate(numeric):
        if is_number:
            if any(isinstance(row[i], str) for row in rows):
                raise ValueError(f"XPT variable {columns[i]!r} mixes numbers and text")
            lengths.append(8)
        else:
            if not all(isinstance(row[i], str) for row in rows):
                raise ValueError(f"XPT character variable {columns[i]!r} has a value that is not text")
            lengths.append(max([len(row[i]) for row in rows] + [1]))
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
    descriptors = _padded(b"".join(namestrs))
    template = "".join(
        f"{{{i}:<{length}}}" if not n else f"{{{i}}}"
        for i, (length, n) in enumerate(zip(lengths, numeric, strict=True))
    )
    number_columns = [i for i, n in enumerate(numeric) if n]
    observations = []
    for row in rows:
        if number_columns:
            row = list(row)
            for i in number_columns:
                row[i] = _number_text(row[i])
        observations.append(template.format(*row))
    text = "".join(observations)
    if not all(row[i].isascii() for row in rows for i, n in enumerate(numeric) if not n):
        raise ValueError("SAS XPORT v5 holds ASCII text only")
    data = _padded(text.encode("latin-1"))
    return head + descriptors + _header("OBS").encode("ascii") + data


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
