"""Fuzz the seedtext reader: arbitrary bytes in, only Trials and Rejections out (see targets.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    import targets


def one_input(data: bytes) -> None:
    targets.check(targets.PARSERS["seedtext"](data))


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
