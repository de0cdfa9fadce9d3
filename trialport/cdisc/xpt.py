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
    observations = "".join([template(*row) for row in zip(*cells, strict=True)])
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
