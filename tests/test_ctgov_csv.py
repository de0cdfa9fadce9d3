"""CSV exports: the real current-website export (245 rows, 49 CAR-T) and the legacy export."""

from __future__ import annotations

import pytest
from conftest import CTGOV, DATA

from trialport import pipeline
from trialport.model import Trial
from trialport.readers.base import Rejection
from trialport.readers.ctgov_places import split_location

MRD = CTGOV / "mrd-aml-csv" / "ctg-studies.csv"


@pytest.fixture(scope="module")
def mrd() -> dict[str, Trial]:
    results = [record.result for record in pipeline.read([MRD])]
    assert not [r for r in results if isinstance(r, Rejection)]
    return {t.id: t for t in results}


def test_every_row_reads(mrd):
    assert len(mrd) == 245
    assert {t.source.format for t in mrd.values()} == {"ctgov-csv"}


def test_row_field_by_field(mrd):
    trial = mrd["NCT03796390"]
    assert trial.title == (
        "Study Evaluating Safety and Efficacy of CAR-T Cells Targeting CD123 in Patients With Acute Myelocytic Leukemia"
    )
    assert (trial.status, trial.study_type, trial.phases) == ("UNKNOWN", "INTERVENTIONAL", ["PHASE1"])
    assert trial.sponsor == "Hebei Senlang Biotechnology Inc., Ltd."  # a comma inside the sponsor's name
    assert trial.collaborators == ["Hebei Yanda Ludaopei Hospital"]
    assert trial.eligibility.std_ages == ["CHILD", "ADULT", "OLDER_ADULT"]  # Age: "CHILD, ADULT, OLDER_ADULT"
    assert trial.locations == []  # this export has no Locations column
    assert [(i.type, i.name) for i in trial.interventions] == [("BIOLOGICAL", "CD123 CAR-T cells")]
    assert trial.design.model_dump() == {
        "allocation": "NA",
        "intervention_model": "SINGLE_GROUP",
        "masking": "NONE",
        "primary_purpose": "TREATMENT",
        "observational_model": None,
        "time_perspective": None,
    }
    assert (trial.dates.start, trial.dates.primary_completion, trial.dates.completion) == (
        "2018-12-26",
        "2020-11-06",
        "2021-06-06",
    )
    assert [(o.kind, o.measure, o.description, o.time_frame.text) for o in trial.outcomes] == [
        (
            "primary",
            "Tumor load",
            "Tumor load will be quantified with radiology, bone marrow and/or blood samples dependent on diagnosis.",
            "Up to 12 months",
        ),
        (
            "secondary",
            "CAR-T cell persistence",
            "CAR-T cell persistence will be quantified with flow cytometry and qPCR\uff1b Percentage of CART cells in "
            "BM and copies of car per ug DNA",
            "Up to 12 months",
        ),
    ]


def test_multi_line_cells_escapes_and_full_width_punctuation(mrd):
    trial = mrd["NCT06105658"]
    assert [(i.type, i.name) for i in trial.interventions] == [
        ("BIOLOGICAL", "Unrelated umbilical cord blood"),
        ("DRUG", "Venetoclax"),
        ("DRUG", "Decetabine"),
        ("DRUG", "Azacitidine"),
    ]
    primary = [o for o in trial.outcomes if o.kind == "primary"]
    assert [(o.measure, o.time_frame.text) for o in primary] == [
        ("Complete response (CR) rate", "28\u00b17days"),
        ("Hematopoietic recovery time", "28\u00b17days"),
    ]
    assert primary[0].description.startswith(
        "CR rate is defined as the percentage of patients who met the following conditions:\n\nMyelogram: na\u00efve"
    )
    assert "absolute neutrophil count > 1.0\u00d710^9/L" in primary[0].description  # \> and \^ undone
    secondary = [o.measure for o in trial.outcomes if o.kind == "secondary"]
    assert secondary[0] == "Time to Progression\uff08TTP\uff09"  # full-width brackets kept as published
    other = [o for o in trial.outcomes if o.kind == "other"]
    assert other[0].measure == "Changes in lymphocyte subsets (NK cells, T cells) before and after treatment"
    assert other[0].time_frame.text == "At the time of enrollment and at 1 month"


def test_withdrawn_rows(mrd):
    withdrawn = [t for t in mrd.values() if t.status == "WITHDRAWN"]
    assert len(withdrawn) == 14
    assert all(t.outcomes for t in withdrawn)


def test_legacy_export_row():
    (trial,) = [r.result for r in pipeline.read([DATA / "legacy-csv" / "nct04333550.csv"])]
    assert trial.source.format == "ctgov-csv-legacy"
    assert (trial.id, trial.title, trial.status) == (
        "NCT04333550",
        "Application of Desferal to Treat COVID-19",
        "RECRUITING",
    )
    assert trial.acronym is None  # empty cell
    assert [(i.type, i.name) for i in trial.interventions] == [("DRUG", "Deferoxamine")]
    assert trial.phases == ["PHASE1", "PHASE2"]
    assert [o.measure for o in trial.outcomes][:3] == [
        "Mortality rate",
        "change in patients clinical manifestation",
        "change in patients PaO2",
    ]
    assert len(trial.outcomes) == 7 and {o.kind for o in trial.outcomes} == {"other"}
    assert any(d.code == "outcome-kind-unknown" for d in trial.diagnostics)
    assert trial.sponsor == "Kermanshah University of Medical Sciences" and trial.collaborators == []
    e = trial.eligibility
    assert (e.sex, e.minimum_age, e.maximum_age) == ("ALL", "3 Years", "99 Years")
    assert e.std_ages == ["CHILD", "ADULT", "OLDER_ADULT"]  # "3 Years to 99 Years   (Child, Adult, Older Adult)"
    (site,) = trial.locations  # split with no certainty: see test_sites_people
    assert site.country == "Iran, Islamic Republic of" and site.city is None
    assert trial.design.model_dump() == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "masking": "DOUBLE",
        "primary_purpose": "TREATMENT",
        "observational_model": None,
        "time_perspective": None,
    }
    assert (trial.enrollment.count, trial.dates.start, trial.dates.completion, trial.dates.first_posted) == (
        50,
        "2020-04",
        "2021-03",
        "2020-04-03",
    )
    assert ("OTHER", "1398.1224") in [(i.type, i.value) for i in trial.identifiers]


def test_ragged_row_is_rejected_and_the_rest_read(tmp_path):
    lines = MRD.read_text(encoding="utf-8").splitlines(keepends=True)
    header, first = lines[0], lines[1]
    (tmp_path / "ragged.csv").write_text(header + first + "NCT99999999,only two cells\n" + first, encoding="utf-8")
    results = [r.result for r in pipeline.read([tmp_path / "ragged.csv"])]
    assert [type(r).__name__ for r in results] == ["Trial", "Rejection", "Trial"]
    assert results[1].record == "NCT99999999" and "row 3 has 2 cells; the header has 20" in results[1].reason


def test_tab_separated_legacy_export(tmp_path):
    text = (DATA / "legacy-csv" / "nct04333550.csv").read_text(encoding="utf-8")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    (tmp_path / "export.tsv").write_text("\n".join("\t".join(r) for r in rows), encoding="utf-8")
    (trial,) = [r.result for r in pipeline.read([tmp_path / "export.tsv"])]
    assert trial.id == "NCT04333550" and trial.eligibility.maximum_age == "99 Years"


# Sites of real records, written as the exports write them: (text, its parts, split with certainty)
SITE_TEXTS = [
    # NCT00023673 (legacy XML): a Canadian site; "Alberta" is one of the provinces
    (
        "Tom Baker Cancer Centre - Calgary, Calgary, Alberta, T2N 4N2, Canada",
        ("Tom Baker Cancer Centre - Calgary", "Calgary", "Alberta", "T2N 4N2", "Canada"),
        True,
    ),
    # the NSCLC array: a facility name ending in a comma; "Hubei" is a province
    (
        "Tongji Hospital of Tongji Medical College, Huazhong University of Science and Technology,, Wuhan, Hubei, "
        "430000, China",
        (
            "Tongji Hospital of Tongji Medical College, Huazhong University of Science and Technology,",
            "Wuhan",
            "Hubei",
            "430000",
            "China",
        ),
        True,
    ),
    # the NSCLC array: the city is "Bogota, D.C."
    (
        "Fundación CTIC - Centro de Tratamiento e Investigación sobre Cáncer Luis Carlos Sarmiento Angulo, Bogota, "
        "D.C., 110131, Colombia",
        (
            "Fundación CTIC - Centro de Tratamiento e Investigación sobre Cáncer Luis Carlos Sarmiento Angulo",
            "Bogota, D.C.",
            None,
            "110131",
            "Colombia",
        ),
        True,
    ),
    # the NSCLC array: a misspelt state, so "Heidelberg" may be the city or part of the facility
    (
        "Research Site, Heidelberg, Baden W\ufffdrttemberg, Germany",
        ("Research Site, Heidelberg, Baden W\ufffdrttemberg", None, None, None, "Germany"),
        False,
    ),
]


@pytest.mark.parametrize(("text", "parts", "certain"), SITE_TEXTS)
def test_site_text_split(text, parts, certain):
    assert split_location(text) == (parts, certain)
