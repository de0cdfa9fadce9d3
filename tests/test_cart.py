"""CAR-T features: the seeds, agreement with readings by hand of CAR trials (tests/data/cart-labels.csv:
the 52 CAR trials of the MRD/AML CSV; tests/data/cart-labels-named.csv: 37 records of
tests/data/cart-records/studies.jsonl; tests/data/cart-labels-pages.csv: 246 records of
tests/data/cart-records/pages.jsonl, copied from public pages of registry records: many naming only their
product, CAR-NK, TCR-T, trials around a CAR-T product, and cell therapies that are not engineered), named
products, composition, markers, role, and the product table's lint."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest
from conftest import CTGOV, DATA, SEEDS

from trialport import pipeline
from trialport.mapping import cart
from trialport.mapping.terminology import antigens
from trialport.model import Trial


def seed(prefix: str) -> Trial:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    (record,) = pipeline.read([path])
    return record.result


def targets(trial: Trial) -> set[str]:
    key_of = {a.coding.code: a.key for a in antigens()}
    return {key_of[c.code] for c in trial.cell_therapy.targets}


def test_seeds():
    assert targets(seed("000")) == {"BCMA"}
    assert targets(seed("001")) == {"CD7"}
    s3 = seed("003").cell_therapy
    assert targets(seed("003")) == {"CD19", "CD22"}
    assert (s3.multi_target, s3.costimulatory) == ("bispecific", ["4-1BB"])
    s4 = seed("004").cell_therapy
    assert targets(seed("004")) == {"CD22"}
    assert (s4.generation, s4.costimulatory) == ("3", ["4-1BB", "CD28"])  # CD137 is 4-1BB
    assert any("CD137" in e.text for e in s4.evidence)
    assert seed("000").cell_therapy.targets[0].code == "HGNC:11913"


def test_evidence_names_field_and_words():
    therapy = seed("003").cell_therapy
    fields = {e.field for e in therapy.evidence}
    assert "title" in fields
    assert all(e.text for e in therapy.evidence)


def test_agreement_with_hand_reading_of_the_mrd_aml_car_trials():
    labels = {row["nct"]: row for row in csv.DictReader((DATA / "cart-labels.csv").open(encoding="utf-8"))}
    trials = {r.result.id: r.result for r in pipeline.read([CTGOV / "mrd-aml-csv"])}
    found = {nct for nct, t in trials.items() if t.cell_therapy and t.cell_therapy.modality != "TCR-T"}
    assert len(labels) == 52
    assert found == set(labels)  # every CAR trial found, no other trial taken for one
    # the one engineered-TCR trial: "HA-1 T TCR T Cell Immunotherapy", "T-cells-expressing HA1-Specific TCR"
    assert {n for n, t in trials.items() if t.cell_therapy and t.cell_therapy.modality == "TCR-T"} == {"NCT03326921"}


def test_agreement_on_all_labels():
    """Modality and exact target set against every label; the bar is 0.95 on each. A label "none" is a
    cell therapy that is not an engineered one (CIK, NK or antigen-specific T cells): no cell_therapy."""
    labels = {}
    for name in ("cart-labels.csv", "cart-labels-named.csv", "cart-labels-pages.csv"):
        labels |= {row["nct"]: row for row in csv.DictReader((DATA / name).open(encoding="utf-8"))}
    trials = {r.result.id: r.result for r in pipeline.read([CTGOV / "mrd-aml-csv", DATA / "cart-records"])}
    assert len(labels) == 335
    found = {n: trials[n].cell_therapy for n in labels}

    def modality_agrees(n: str) -> bool:
        return (
            found[n] is None
            if labels[n]["modality"] == "none"
            else bool(found[n]) and found[n].modality == labels[n]["modality"]
        )

    def targets_agree(n: str) -> bool:
        expected = set(filter(None, labels[n]["targets"].split("|")))
        return (not expected) if found[n] is None else targets(trials[n]) == expected

    same_modality = sum(map(modality_agrees, labels))
    same_targets = sum(map(targets_agree, labels))
    with_role = [n for n in labels if labels[n].get("role")]
    same_role = sum(bool(found[n]) and found[n].role == labels[n]["role"] for n in with_role)
    print(f"\nCAR labels: modality {same_modality}/{len(labels)}, targets {same_targets}/{len(labels)}, ", end="")
    print(f"role {same_role}/{len(with_role)}")
    for n in labels:
        if not (modality_agrees(n) and targets_agree(n)):
            got = (found[n].modality, sorted(targets(trials[n]))) if found[n] else None
            print(f"  {n}: label {labels[n]['modality']} {labels[n]['targets']!r}, found {got}")
    assert same_modality / len(labels) >= 0.95
    assert same_targets / len(labels) >= 0.95
    assert len(with_role) == 225 and same_role / len(with_role) >= 0.95


def test_trials_that_name_only_their_product():
    trials = {r.result.id: r.result for r in pipeline.read([DATA / "cart-records"])}
    # "Determine Efficacy and Safety of CTL019 in Pediatric Patients ...": the code name in the title only
    assert trials["NCT02435849"].cell_therapy.products == ["tisagenlecleucel"]
    assert targets(trials["NCT02435849"]) == {"CD19"}
    # "Expanded Treatment Protocol in Acute Lymphoblastic Leukemia": CTL019 only in the summary, and this
    # copy has no interventions: summaries are scanned for products only once a trial is a cell therapy's
    assert trials["NCT03123939"].cell_therapy is None
    assert trials["NCT03391466"].cell_therapy.products == ["axicabtagene ciloleucel"]
    assert trials["NCT03484702"].cell_therapy.products == ["lisocabtagene maraleucel"]
    # the description's "CD19-targeted CAR-T can re-induce remissions" is background, not a target
    assert targets(trials["NCT02954445"]) == {"BCMA"}
    assert trials["NCT03391466"].cell_therapy.role == "product"  # lists no intervention: nothing says otherwise


def target_keys(therapy: dict) -> set[str]:
    key_of = {a.coding.code: a.key for a in antigens()}
    return {key_of[c.code] for c in therapy["targets"]}


@pytest.mark.parametrize(
    ("text", "inn", "keys"),
    [
        ("Yescarta", "axicabtagene ciloleucel", {"CD19"}),
        ("KTE-C19 in refractory DLBCL", "axicabtagene ciloleucel", {"CD19"}),
        ("KTE-X19", "brexucabtagene autoleucel", {"CD19"}),
        ("Kymriah (CTL019)", "tisagenlecleucel", {"CD19"}),
        ("JCAR017", "lisocabtagene maraleucel", {"CD19"}),
        ("bb2121 in multiple myeloma", "idecabtagene vicleucel", {"BCMA"}),
        ("JNJ-68284528", "ciltacabtagene autoleucel", {"BCMA"}),
        ("LCAR-B38M cells", "ciltacabtagene autoleucel", {"BCMA"}),
        ("Carvykti", "ciltacabtagene autoleucel", {"BCMA"}),
        ("AUTO1", "obecabtagene autoleucel", {"CD19"}),
        ("JWCAR029", "relmacabtagene autoleucel", {"CD19"}),
        ("CT103A", "equecabtagene autoleucel", {"BCMA"}),
        ("CT053", "zevorcabtagene autoleucel", {"BCMA"}),
        ("MB-CART2019.1", "zamtocabtagene autoleucel", {"CD19", "CD20"}),
        ("JNJ-90014496", "JNJ-90014496", {"CD19", "CD20"}),
        ("JCAR014", "JCAR014", {"CD19"}),
        ("axicabtagene  ciloleucel", "axicabtagene ciloleucel", {"CD19"}),
    ],
)
def test_product_names_give_inn_and_targets(text, inn, keys):
    therapy = cart.features({"title": text})
    assert therapy["products"] == [inn]
    assert target_keys(therapy) == keys
    assert therapy["modality"] == "CAR-T"


def test_product_names_match_whole_words_only():
    for text in ("bb21210", "xCT053", "CT0530 levels", "AUTO1/22", "Kymriahs"):
        assert cart.features({"title": text}) is None, text


def test_an_inn_of_the_car_stem_not_in_the_table():
    therapy = cart.features({"title": "Zorpocabtagene autoleucel in lupus"})
    assert therapy["products"] == ["zorpocabtagene autoleucel"]
    assert (therapy["modality"], therapy["targets"]) == ("CAR-T", [])
    assert cart.features({"title": "Afamitresgene autoleucel in synovial sarcoma"})["modality"] == "TCR-T"


def test_composition_is_not_a_target():
    """Hand-written fields (the records here have no such wording)."""
    for name in ("CD4+ and CD8+ CAR-T cells", "CD19 CAR-T cells at a CD4/CD8 ratio of 1:1", "CD4:CD8 CAR T cells"):
        therapy = cart.features({"title": "CD19 CAR-T in lymphoma", "interventions": [{"name": name}]})
        assert target_keys(therapy) == {"CD19"}, name
    assert target_keys(cart.features({"title": "CD4 CAR T cells in T-cell lymphoma"})) == {"CD4"}


@pytest.mark.parametrize(
    ("title", "modality", "keys"),
    [
        ("Autologous T cells with chimeric T cell receptors against CD19", "CAR-T", {"CD19"}),
        ("Meso-CIR T cells in mesothelioma", "CAR-T", {"MSLN"}),
        ("mesoCAR-T cells for pancreatic cancer", "CAR-T", {"MSLN"}),
        ("4SCAR19/22 T cells in B-cell malignancies", "CAR-T", {"CD19", "CD22"}),
        ("Gene Therapy Using Anti-Her-2 Cells", "CAR-T", {"HER2"}),
        ("NY-ESO-1 T cell receptor gene transduced autologous T lymphocytes", "TCR-T", {"NY-ESO-1"}),
        ("PBMC expressing NY-ESO-1 TCR in advanced cancer", "TCR-T", {"NY-ESO-1"}),
        ("CD19-UCART in B-ALL", "CAR-T", {"CD19"}),
        ("TriCAR-T targeting CD19 in lymphoma", "CAR-T", {"CD19"}),
        ("STAR-T cells directed at CD19", "CAR-T", {"CD19"}),
        ("CD19-CD22 targeted T cells injection", "CAR-T", {"CD19", "CD22"}),
        ("GD2-specific NKT cells in neuroblastoma", "CAR-NKT", {"GD2"}),
        # titles of records in tests/data/cart-records/pages.jsonl
        ("CD22 Redirected Autologous T Cells for ALL", "CAR-T", {"CD22"}),
        (
            "Human CD19 Targeted T Cells Injection Therapy for Relapsed and Refractory CD19-positive Leukemia",
            "CAR-T",
            {"CD19"},
        ),
        ("A Study of CD19 UCAR-T Cells in Subjects With Autoimmune Diseases", "CAR-T", {"CD19"}),
        (
            "To Evaluate the Safety and Tolerability of Anti-Human CD70 T-Cell Injection in Subjects With"
            " Advanced/Metastatic Renal Cancer",
            "CAR-T",
            {"CD70"},
        ),
        ("B Cell Maturation Antigen(BMCA)-Targeted CAR-T for Refractory/Relapsed Multiple Myeloma", "CAR-T", {"BCMA"}),
        (
            "CAR T Cells After Lymphodepletion for the Treatment of IL13Rα2 Positive Recurrent or"
            " Refractory Brain Tumors in Children",
            "CAR-T",
            {"IL13RA2"},
        ),
        (
            "E7 TCR Cell Induction Immunotherapy for Stage II and Stage III HPV-Associated Oropharyngeal Cancer",
            "TCR-T",
            {"HPV-16 E7"},
        ),
        # a CAR given before is not this trial's target
        (
            "CD22 CAR T-cells to Extend Remission Following Commercial CD19 CAR T-cells in Children,"
            " Adolescents, and Adults With Relapsed/Refractory B-cell Acute Lymphoblastic Leukemia",
            "CAR-T",
            {"CD22"},
        ),
    ],
)
def test_receptor_spellings(title, modality, keys):
    therapy = cart.features({"title": title})
    assert therapy["modality"] == modality
    assert target_keys(therapy) == keys


@pytest.mark.parametrize(
    "title",
    [
        "Ex Vivo-Expanded HER2-Specific T Cells and Cyclophosphamide After Vaccine Therapy in Treating"
        " Patients With HER2-Positive Stage IV Breast Cancer",
        "Preemptive Therapy With CMV-specific T Cells Infusion to Prevent Refractory CMV Infection Post"
        " Transplantation",
    ],
)
def test_antigen_specific_t_cells_are_not_engineered(title):
    """Grown from the patient's or a donor's own cells (vaccine- or virus-primed): no CAR, no engineered TCR."""
    assert cart.features({"title": title}) is None


def test_a_marker_the_cells_carry_is_not_a_target():
    trials = {r.result.id: r.result for r in pipeline.read([DATA / "cart-records" / "pages.jsonl"])}
    # "IL13Ralpha2-specific Hinge-optimized 4-1BB-co-stimulatory CAR/Truncated CD19-expressing Autologous TN/MEM Cells"
    assert targets(trials["NCT04003649"]) == {"IL13RA2"}
    assert cart.features({"title": "CD19t-expressing B7-H3 CAR T cells with EGFRt"})["targets"] == [
        a.coding for a in antigens() if a.key == "B7-H3"
    ]


def test_a_record_without_title_says_in_its_summary_what_it_gives():
    trials = {r.result.id: r.result for r in pipeline.read([DATA / "cart-records" / "pages.jsonl"])}
    # only a summary: "... CEA-targeted CAR-T cells ..."
    assert (trials["NCT07247396"].cell_therapy.modality, targets(trials["NCT07247396"])) == ("CAR-T", {"CEA"})
    assert trials["NCT07247396"].title == "NCT07247396"  # the id stands in for the title, after the mapping


def test_role_of_real_trials_around_a_car_t_product():
    trials = {r.result.id: r.result for r in pipeline.read([DATA / "cart-records" / "pages.jsonl"])}
    # "Anakinra in Preventing Severe Chimeric Antigen Receptor T-Cell Related Encephalopathy Syndrome ...",
    # axicabtagene ciloleucel among its interventions: the trial is about the anakinra
    therapy = trials["NCT04205838"].cell_therapy
    assert (therapy.role, therapy.products) == ("background", ["axicabtagene ciloleucel"])
    # "A Study of Anakinra to Prevent or Treat Severe Side Effects for Patients Receiving CAR-T Cell Therapy"
    assert trials["NCT04148430"].cell_therapy.role == "background"
    # no title; the summary: "... prophylactic Tocilizumab treatment ... following CAR-T-treatment"
    assert trials["NCT06430736"].cell_therapy.role == "background"
    # "CARTIMMUNE: Study of Patients With Autoimmune Diseases Receiving KYV-101": the product's own trial
    assert trials["NCT06152172"].cell_therapy.role == "product"


PAGES = DATA / "cart-records" / "pages.jsonl"


@pytest.mark.parametrize(
    ("nct", "modality", "keys", "products"),
    [
        # "A Study of Mesothelin Redirected Autologous T Cells for Advanced Pancreatic Carcinoma"
        ("NCT02706782", "CAR-T", {"MSLN"}, []),
        # "Autologous Anti-PSCA-CAR-4-1BB/TCRzeta-CD19t-expressing T-lymphocytes": 4-1BB is no CD4, CD19t a marker
        ("NCT03873805", "CAR-T", {"PSCA"}, []),
        # "... NK-92/5.28.z Cells in Patients With Recurrent HER2-positive Glioblastoma (CAR2BRAIN)"
        ("NCT03383978", "CAR-NK", {"HER2"}, ["NK-92/5.28.z"]),
        # "A Phase I Platform Study of Target-Based Screened CAR-Macrophages ..."
        ("NCT07409766", "CAR-M", set(), []),
        # "... AMG 119 in Subjects With RR SCLC": the product names the target
        ("NCT03392064", "CAR-T", {"DLL3"}, ["AMG 119"]),
        # "CD3-CD20 Bisspecific Antibody Based Therapy Combined With CD19-CAR T Cells": CD20 is the antibody's
        ("NCT06464185", "CAR-T", {"CD19"}, []),
        # "4SCAR-T Therapy Targeting GD2, PSMA and CD276"
        ("NCT04637503", "CAR-T", {"GD2", "PSMA", "B7-H3"}, []),
    ],
)
def test_real_records_of_every_modality(nct, modality, keys, products):
    therapy = next(r.result for r in pipeline.read([PAGES]) if r.result.id == nct).cell_therapy
    assert (therapy.modality, therapy.products) == (modality, products)
    assert {a.key for a in antigens() if a.coding in therapy.targets} == keys


@pytest.mark.parametrize(
    "nct",
    [
        "NCT05952804",  # "IVIG for Infection Prevention After CAR-T-Cell Therapy"
        "NCT07186192",  # "Digital Health Intervention for Self-Management and Telemonitoring in ... (CAR-T) Therapy"
        "NCT05800405",  # "... Bridging Radiation to All Sites of FDG-Avid Disease for Commercial CAR T-Cell Infusion"
    ],
)
def test_titles_about_what_is_given_around_the_cells(nct):
    therapy = next(r.result for r in pipeline.read([PAGES]) if r.result.id == nct).cell_therapy
    assert therapy.role == "background"


def test_role():
    """Hand-written fields: no record here is a toxicity-prophylaxis trial."""
    prophylaxis = {
        "title": "Anakinra to prevent CRS and ICANS in patients receiving axicabtagene ciloleucel",
        "interventions": [{"name": "Anakinra", "other_names": ["Kineret"]}],
    }
    therapy = cart.features(prophylaxis)
    assert (therapy["role"], therapy["products"]) == ("background", ["axicabtagene ciloleucel"])
    defibrotide = {
        "title": "Defibrotide for prevention of CAR-T neurotoxicity",
        "interventions": [{"name": "Defibrotide"}],
    }
    assert cart.features(defibrotide)["role"] == "background"
    product = {
        "title": "Study of axi-cel",
        "interventions": [{"name": "Axicabtagene ciloleucel"}, {"name": "Fludarabine"}],
    }
    assert cart.features(product)["role"] == "product"
    cells = {"title": "CD19 CAR-T in ALL", "interventions": [{"name": "Autologous T cells"}]}
    assert cart.features(cells)["role"] == "product"


def test_product_table_lint():
    with files("trialport.mapping").joinpath("data", "cell_products.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 35
    keys = {a.key for a in antigens()}
    seen: dict[str, str] = {}
    for row in rows:
        assert row["source"] and row["source_version"] and row["licence"], row["name"]
        assert row["modality"] in {"CAR-T", "CAR-NK", "TCR-T"}, row["name"]
        assert row["origin"] in {"autologous", "allogeneic", ""}, row["name"]
        assert set(filter(None, row["targets"].split("|"))) <= keys, row["name"]
        for name in [row["name"], *filter(None, row["aliases"].split("|"))]:
            folded = cart._fold(name)
            assert folded not in seen, (name, seen.get(folded))
            seen[folded] = row["name"]
            assert cart.features({"title": name})["products"] == [row["name"]], name
