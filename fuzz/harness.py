"""The atheris harness for every reader target: arbitrary bytes in, only Trials and Rejections out.

python fuzz/harness.py TARGET [libFuzzer options]      # TARGET: a name in targets.PARSERS
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    import targets


def main() -> None:
    parse = targets.PARSERS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, lambda data: targets.check(parse(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
