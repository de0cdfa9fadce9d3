"""The canonical model's field names are a contract (DESIGN.md): pin them exactly."""

from __future__ import annotations

import pydantic
import pytest

from trialport import model

CONTRACT = {
    model.Trial: (
        "id identifiers title official_title acronym brief_summary detailed_description conditions keywords "
        "interventions outcomes phases study_type status sponsor collaborators enrollment dates design arms "
        "eligibility why_stopped locations contacts officials references links cell_therapy source diagnostics"
    ),
    model.Identifier: "system value type",
    model.Condition: "name codes",
    model.Intervention: "type name description other_names arm_labels targets codes",
    model.Outcome: "kind measure description time_frame",
    model.Enrollment: "count type",
    model.Dates: "start primary_completion completion first_posted last_update",
    model.Design: "allocation intervention_model masking primary_purpose observational_model time_perspective",
    model.Arm: "label type description intervention_names",
    model.Eligibility: (
        "criteria inclusion exclusion sex minimum_age maximum_age healthy_volunteers std_ages"
        " study_population sampling_method"
    ),
    model.Location: "facility status city state zip country geo contacts",
    model.GeoPoint: "lat lon",
    model.Contact: "name role phone email",
    model.Official: "name affiliation role",
    model.Reference: "pmid citation type",
    model.Link: "label url",
    model.CellTherapy: "modality products role targets multi_target generation costimulatory origin vector evidence",
    model.Evidence: "field text",
    model.Source: "format path record sha256",
    model.Diagnostic: "level code field message",
    model.Coding: "system code display origin",
    model.TimeFrame: "text kind value unit iso8601 comparator tolerance anchor points within",
}


@pytest.mark.parametrize("cls", list(CONTRACT), ids=lambda c: c.__name__)
def test_field_names_are_the_contract(cls):
    assert list(cls.model_fields) == CONTRACT[cls].split()


def test_models_are_frozen_and_strict_about_values():
    trial = model.Trial(id="NCT00000001", title="t")
    with pytest.raises(pydantic.ValidationError):
        trial.title = "changed"
    with pytest.raises(pydantic.ValidationError):
        model.Outcome(kind="tertiary", measure="m")
    with pytest.raises(pydantic.ValidationError):
        model.Trial(id="x", title="t", phases=["PHASE 1"])  # API v2 enumeration values only
    assert model.Trial(id="x", title="t").model_dump(mode="json")["dates"]["start"] is None
