"""The TS and TI rules a conformance checker applies, run on a written ts.xpt or ti.xpt (read back with our
XPORT v5 reader); which dataset a file holds is told by its variables."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from trialport.cdisc.dataset import LIMIT
from trialport.cdisc.terminology import parameters
from trialport.cdisc.xpt import read_xpt

ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
NULL_FLAVOURS = {"NI", "NA", "UNK", "ASKU", "NASK", "PINF", "NINF", "OTH", "MSK", "QS", "NAV", "TRC"}
TEST_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,7}$")  # IETESTCD: 8 characters at most, no leading digit
TS_VARIABLES = {"STUDYID", "TSSEQ", "TSPARMCD", "TSPARM", "TSVAL", "TSVALNF", "TSVALCD", "TSVCDREF"}
TI_VARIABLES = {"STUDYID", "DOMAIN", "IETESTCD", "IETEST", "IECAT"}


def check_rows(rows: list[dict]) -> list[str]:
    """Problems in a study's TS rows, one line each (an empty list: the rows pass)."""
    problems = []
    seen = Counter((row["TSPARMCD"], int(row["TSSEQ"])) for row in rows)
    problems += [f"{code} TSSEQ {seq} is used {n} times" for (code, seq), n in seen.items() if n > 1]
    for row in rows:
        where = f"{row['TSPARMCD']} TSSEQ {int(row['TSSEQ'])}"
        term = parameters().get(row["TSPARMCD"])
        if term is None:
            problems.append(f"{where}: TSPARMCD {row['TSPARMCD']!r} is not in our CDISC terminology")
        elif row["TSPARM"] != term.term:
            problems.append(f"{where}: TSPARM {row['TSPARM']!r} does not match TSPARMCD (expected {term.term!r})")
        if row["TSVALCD"] and not row["TSVCDREF"]:
            problems.append(f"{where}: TSVALCD {row['TSVALCD']!r} without TSVCDREF")
        if bool(row["TSVAL"]) == bool(row["TSVALNF"]):
            problems.append(f"{where}: exactly one of TSVAL and TSVALNF must be given")
        if row["TSVALNF"] and row["TSVALNF"] not in NULL_FLAVOURS:
            problems.append(f"{where}: TSVALNF {row['TSVALNF']!r} is not an ISO 21090 null flavour")
        if row["TSPARMCD"] in ("SSTDTC", "SENDTC") and row["TSVAL"] and not ISO_DATE.match(row["TSVAL"]):
            problems.append(f"{where}: {row['TSVAL']!r} is not an ISO 8601 date")
        for name, value in row.items():
            if isinstance(value, str) and (len(value.encode()) > LIMIT or not value.isascii()):
                problems.append(f"{where}: {name} is not ASCII of at most {LIMIT} bytes")
    if not any(row["TSPARMCD"] == "SSTDTC" for row in rows):
        problems.append("SSTDTC (study start date) is missing")
    if not any(row["TSPARMCD"] == "REGID" for row in rows):
        problems.append("REGID (registry identifier) is missing")
    return problems


def check_ti_rows(rows: list[dict]) -> list[str]:
    """Problems in a study's TI rows, one line each (an empty list: the rows pass)."""
    problems = []
    seen = Counter((row["IETESTCD"], row.get("TIVERS", "")) for row in rows)
    problems += [
        f"IETESTCD {code}" + (f" (TIVERS {version})" if version else "") + f" is used {n} times"
        for (code, version), n in seen.items()
        if n > 1
    ]
    for row in rows:
        where = f"IETESTCD {row['IETESTCD'] or '(empty)'}"
        if row["DOMAIN"] != "TI":
            problems.append(f"{where}: DOMAIN {row['DOMAIN']!r} is not 'TI'")
        if not TEST_CODE.match(row["IETESTCD"]):
            problems.append(f"{where}: not 1 to 8 letters, digits or underscores starting with a letter")
        if not row["IETEST"]:
            problems.append(f"{where}: IETEST is empty")
        if row["IECAT"] not in ("INCLUSION", "EXCLUSION"):
            problems.append(f"{where}: IECAT {row['IECAT']!r} is not INCLUSION or EXCLUSION")
        for name, value in row.items():
            if isinstance(value, str) and (len(value.encode()) > LIMIT or not value.isascii()):
                problems.append(f"{where}: {name} is not ASCII of at most {LIMIT} bytes")
    return problems


def check_dataset(path: Path) -> tuple[str, list[str]]:
    """Which dataset one .xpt file holds (TS, TI, or "XPT" when neither) and its problems; a file that cannot
    be read is one problem, not a crash."""
    try:
        columns, rows = read_xpt(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        return "XPT", [f"not a readable SAS XPORT file: {error}"]
    rows = [{name: "" if value is None else value for name, value in row.items()} for row in rows]
    if "TSPARMCD" in columns:
        missing = TS_VARIABLES - set(columns)
        return "TS", [f"not a TS dataset: no {', '.join(sorted(missing))}"] if missing else check_rows(rows)
    if "IETESTCD" in columns:
        missing = TI_VARIABLES - set(columns)
        return "TI", [f"not a TI dataset: no {', '.join(sorted(missing))}"] if missing else check_ti_rows(rows)
    return "XPT", [f"neither a TS nor a TI dataset: no TSPARMCD, no IETESTCD (variables: {', '.join(columns)})"]


def check_xpt(path: Path) -> list[str]:
    """Problems in one ts.xpt or ti.xpt (see ``check_dataset``)."""
    return check_dataset(path)[1]
