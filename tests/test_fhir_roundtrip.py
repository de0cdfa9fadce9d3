"""Model → FHIR → model keeps every field FHIR carries, on the real records, in R5, R4B and R4: each trial
read back from its own resources, and every exported file (Bundle, NDJSON, one study a file) read back
with the Locations, PractitionerRoles, Group and PlanDefinitions it refers to."""

from __future__ import annotations

import shutil

import pytest
from conftest import CTGOV, SEEDS

from trialport import pipeline
from trialport.fhir.build import resources
from trialport.model import Trial
from trialport.readers.fhir import resources_in, study

VERSIONS = ("R5", "R4B", "R4")
FORMAT = {"R5": "fhir-r5", "R4B": "fhir-r4b", "R4": "fhir-r4b"}  # R4 and R4B are the same shape


UNSPLIT = "criteria-unsplit"  # a block the mapping could not split: said again when it is read back


def carried(trial: Trial) -> dict:
    """The fields the FHIR export carries (of eligibility: the block, the criteria one by one, the ages and a
    sex other than ALL; not the age groups, healthy volunteers, population; nor arms' intervention lists)."""
    eligibility = trial.eligibility
    return {
        "id": trial.id,
        "identifiers": [(i.value, i.type) for i in trial.identifiers],
        "titles": (trial.title, trial.official_title, trial.acronym),
        "text": (trial.brief_summary, trial.detailed_description),
        "conditions": [(c.name, sorted((x.system, x.code) for x in c.codes)) for c in trial.conditions],
        "keywords": trial.keywords,
        "interventions": [
            (i.type, i.name, [x.code for x in i.codes], [x.code for x in i.targets]) for i in trial.interventions
        ],
        "plans": [(i.description, i.other_names, i.arm_labels) for i in trial.interventions],
        "outcomes": [(o.kind, o.measure, o.description, o.time_frame) for o in trial.outcomes],
        "phases": trial.phases,
        "status": trial.status
        if trial.status
        in {
            "RECRUITING",
            "NOT_YET_RECRUITING",
            "ACTIVE_NOT_RECRUITING",
            "ENROLLING_BY_INVITATION",
            "COMPLETED",
            "TERMINATED",
            "WITHDRAWN",
            "SUSPENDED",
        }
        else None,
        "study_type": trial.study_type,
        "parties": (trial.sponsor, trial.collaborators),
        "enrollment": trial.enrollment.model_dump()
        if trial.enrollment and trial.enrollment.count is not None
        else None,
        "dates": (trial.dates.start, trial.dates.completion),
        "design": trial.design,
        "arms": [(a.label, a.type, a.description) for a in trial.arms],
        "cell_therapy": trial.cell_therapy,
        "criteria": eligibility.criteria if eligibility else None,
        "inclusion": eligibility.inclusion if eligibility else [],
        "exclusion": eligibility.exclusion if eligibility else [],
        "ages": (eligibility.minimum_age, eligibility.maximum_age) if eligibility else (None, None),
        "sex": eligibility.sex if eligibility and eligibility.sex != "ALL" else None,
        "unsplit": [d.message for d in trial.diagnostics if d.code == UNSPLIT],
        "why_stopped": trial.why_stopped,
    }


def people_and_places(trial: Trial) -> dict:
    """Sites, contacts, officials, references and links, field by field."""
    return {
        "locations": [
            (
                s.facility,
                s.status,
                s.city,
                s.state,
                s.zip,
                s.country,
                (s.geo.lat, s.geo.lon) if s.geo else None,
                [(c.name, c.role, c.phone, c.email) for c in s.contacts],
            )
            for s in trial.locations
        ],
        "contacts": [(c.name, c.role, c.phone, c.email) for c in trial.contacts],
        "officials": [(o.name, o.affiliation, o.role) for o in trial.officials],
        "references": [(r.pmid, r.citation, r.type) for r in trial.references],
        "links": [(link.label, link.url) for link in trial.links],
    }


def unexpected(after: Trial) -> list:
    """Diagnostics of reading back, but the unsplit criteria's (compared with the trial's own in ``same``)."""
    return [d for d in after.diagnostics if d.code != UNSPLIT]


def same(before: Trial, after: Trial) -> None:
    for fields in (carried, people_and_places):
        expected, found = fields(before), fields(after)
        for key in expected:
            assert found[key] == expected[key], (before.id, key)


@pytest.fixture(scope="module")
def trials() -> list[Trial]:
    return [r.result for r in pipeline.read([CTGOV, SEEDS]) if isinstance(r.result, Trial)]


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip_on_real_records(trials, version):
    """Each trial's resources, as one Bundle, back into the same trial."""
    assert len(trials) > 600
    sites = people = 0
    interventions = [i for t in trials for i in t.interventions]
    # the records do have interventions' descriptions, other names and arms to keep
    assert sum(bool(i.description) for i in interventions) > 500
    assert sum(bool(i.other_names) for i in interventions) > 150
    assert sum(bool(i.arm_labels) for i in interventions) > 500
    for trial in trials:
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
        bundle["entry"] = [{"resource": r} for r in resources(trial, version)]
        (back,) = resources_in(bundle, "memory")
        assert isinstance(back, Trial), back
        assert back.source.format == FORMAT[version]
        assert unexpected(back) == []
        same(trial, back)
        sites += len(trial.locations)
        people += len(trial.contacts) + len(trial.officials) + sum(len(s.contacts) for s in trial.locations)
    assert sites > 1200 and people > 400  # the records do have sites and people to keep


FOLDERS = [
    CTGOV / "nsclc-v2-json",
    CTGOV / "aact-fixtures" / "v2-json",
    CTGOV / "aact-fixtures" / "legacy-xml",
    CTGOV / "aact-fixtures" / "classic-api-json",
    CTGOV / "mrd-aml-csv",
]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_exported_files_read_back_with_what_they_refer_to(folder, tmp_path):
    """A study read from the Bundle, from ResearchStudy.ndjson (the other NDJSON files beside it) and from
    its own file (the same) is the trial exported, sites and people included. One export per input format:
    a Location shared by several studies holds the first study's address and position, and one format
    (legacy XML) has no positions where another has."""
    trials = [r.result for r in pipeline.read([folder]) if isinstance(r.result, Trial)]
    assert pipeline.convert([folder], tmp_path, ["fhir"], options={"fhir_version": "all"}).exit_code == 0
    last = {t.id: t for t in trials}  # a trial given twice: its own file is the last one's
    for version in VERSIONS:
        exported = tmp_path / "fhir" / version
        for name in ("bundle.json", "ResearchStudy.ndjson"):
            back = [r.result for r in pipeline.read([exported / name])]
            assert len(back) == len(trials), name
            for before, after in zip(trials, back, strict=True):
                assert isinstance(after, Trial) and unexpected(after) == [], (name, after)
                same(before, after)
        singles = [exported / f"{t}.json" for t in last]
        for after in (r.result for r in pipeline.read(singles)):
            assert isinstance(after, Trial) and unexpected(after) == [], after
            same(last[after.id], after)


def test_a_study_file_alone_says_what_it_could_not_read(tmp_path):
    """Without the files beside it, a study keeps what it holds itself and a diagnostic names what is missing."""
    exported = tmp_path / "out"
    source = CTGOV / "nsclc-v2-json"
    pipeline.convert([source], exported, ["fhir"], options={"fhir_version": "R5"})
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(exported / "fhir" / "R5" / "NCT06823401.json", alone)
    (back,) = [r.result for r in pipeline.read([alone / "NCT06823401.json"])]
    assert isinstance(back, Trial)
    # kept: the site's facility, status and postal code, the people's names; not: addresses, phones
    assert [(s.facility, s.status, s.zip, s.city) for s in back.locations] == [
        ("Istituto Tumori Regina Elena", "ENROLLING_BY_INVITATION", "000144", None),
        ("Istituto Tumori Regina Elena", "RECRUITING", "00128", None),
    ]
    # the role from the party's code (recruitment-contact, sub-investigator); phone and email not at hand
    assert [(c.name, c.role, c.phone, c.email) for c in back.locations[1].contacts] == [
        ("Grisel GM Maver Militello, Monitor", "CONTACT", None, None),
        ("Raffaella RV Veneziano, S.C", "CONTACT", None, None),
        ("Lorenza LL Landi, Dott.ssa", "SUB_INVESTIGATOR", None, None),
    ]
    (diagnostic,) = back.diagnostics
    assert diagnostic.code == "fhir-reference-not-found" and "Location/loc-" in diagnostic.message
    assert diagnostic.message.startswith("9 referenced resources not among those read")


def test_reader_takes_bundles_and_ndjson(tmp_path):
    pipeline.convert(
        [SEEDS, CTGOV / "aact-fixtures" / "v2-json" / "NCT00973089.json"],
        tmp_path,
        ["fhir"],
        options={"fhir_version": "all"},
    )
    for version in VERSIONS:
        for name in ("bundle.json", "ResearchStudy.ndjson", "local-70e660247b04.json"):
            results = [r.result for r in pipeline.read([tmp_path / "fhir" / version / name])]
            assert all(isinstance(t, Trial) for t in results)
            assert len(results) == (1 if name.startswith("local") else 5), name
        for kind in ("Organization", "Location", "Practitioner", "PractitionerRole", "Group", "PlanDefinition"):
            others = [r.result for r in pipeline.read([tmp_path / "fhir" / version / f"{kind}.ndjson"])]
            assert others == [], kind  # not trials: passed over


def test_a_lone_study_reads_without_resolving(trials):
    """``study`` on a ResearchStudy with nothing else at hand (a server's answer) still reads the study."""
    trial = next(t for t in trials if t.id == "NCT00973089")
    back = study(resources(trial, "R4B")[0], "server", None)
    assert isinstance(back, Trial)
    assert (back.title, back.why_stopped, back.references) == (trial.title, trial.why_stopped, trial.references)
    assert back.eligibility is None  # its criteria are in the Group, not at hand
    # its one intervention (API v2: OTHER "Incomplete caries removal in primary teeth", other name
    # "Indirect pulp capping", arm "Incomplete caries removal"): name and type from focus; the rest is
    # in its PlanDefinition, not at hand
    (intervention,) = back.interventions
    assert (intervention.type, intervention.name) == ("OTHER", "Incomplete caries removal in primary teeth")
    assert (intervention.description, intervention.other_names, intervention.arm_labels) == (None, [], [])
    assert [d.code for d in back.diagnostics] == ["fhir-reference-not-found"]
    assert "PlanDefinition/plan-" in back.diagnostics[0].message


def test_plans_go_to_their_interventions_by_position():
    """NCT04646330 (API v2) gives three interventions all named "AK104+anlotinib", each with its own
    description and arm ("AK104 10mg/kg Q2W plus anlotinib", "AK104 15mg/kg Q3W plus anlotinib", "AK104
    10mg/kg Q3W plus anlotinib"): three PlanDefinitions, each read back to its own intervention, also when
    the study lists them in another order."""
    (trial,) = [r.result for r in pipeline.read([CTGOV / "nsclc-v2-json"]) if r.result.id == "NCT04646330"]
    arms = ["AK104 10mg/kg Q2W plus anlotinib", "AK104 15mg/kg Q3W plus anlotinib", "AK104 10mg/kg Q3W plus anlotinib"]
    assert [i.arm_labels for i in trial.interventions] == [[arm] for arm in arms]
    for version in VERSIONS:
        study, *referred = resources(trial, version)
        plans = [r for r in referred if r["resourceType"] == "PlanDefinition"]
        assert len({p["id"] for p in plans}) == 3
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in referred]}
        bundle["entry"].append({"resource": study})
        (back,) = resources_in(bundle, "memory")
        assert [(i.name, i.arm_labels, i.description) for i in back.interventions] == [
            (i.name, i.arm_labels, i.description) for i in trial.interventions
        ]
        # the references in another order: each plan still goes to the intervention of its own position
        # when the names agree, so here (one name) in the order the study lists them
        study["protocol"] = study["protocol"][::-1]
        (back,) = resources_in(bundle, "memory")
        assert [i.arm_labels for i in back.interventions] == [[arm] for arm in arms[::-1]]


def test_plans_of_other_names_go_to_their_interventions_by_title():
    """NCT04811001 (API v2): Osimertinib (other name Tagrisso), then Dacomitinib (Vizimpro). With the study's
    references to their PlanDefinitions in the other order, each still goes to its own intervention."""
    (trial,) = [r.result for r in pipeline.read([CTGOV / "nsclc-v2-json"]) if r.result.id == "NCT04811001"]
    study, *referred = resources(trial, "R5")
    study["protocol"] = study["protocol"][::-1]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [*referred, study]]}
    (back,) = resources_in(bundle, "memory")
    assert [(i.name, i.other_names) for i in back.interventions] == [
        ("Osimertinib", ["Tagrisso"]),
        ("Dacomitinib", ["Vizimpro"]),
    ]
    same(trial, back)


def test_a_large_bundle_streamed_reads_back_the_same(tmp_path, monkeypatch):
    """A Bundle too large to parse whole is streamed: what a study refers to (PlanDefinitions included) is
    kept as it passes, and the studies read back as from the whole Bundle."""
    from trialport.readers import fhir as fhir_reader

    folder = CTGOV / "nsclc-v2-json"
    trials = [r.result for r in pipeline.read([folder]) if isinstance(r.result, Trial)]
    pipeline.convert([folder], tmp_path, ["fhir"], options={"fhir_version": "R4", "fhir_outputs": "bundle"})
    monkeypatch.setattr(fhir_reader, "WHOLE_FILE_LIMIT", 0)  # every file counts as large
    back = [r.result for r in pipeline.read([tmp_path / "fhir" / "R4" / "bundle.json"])]
    assert len(back) == len(trials) == 100
    for before, after in zip(trials, back, strict=True):
        assert isinstance(after, Trial) and unexpected(after) == [], after
        same(before, after)


def test_plans_without_focus_are_interventions_of_their_own():
    """A study that lists its interventions only in ``protocol`` (NCT04811001's resources without ``focus``):
    each PlanDefinition is an intervention, its type from ``topic``; a plan with no title and no display
    names no intervention and says so."""
    (trial,) = [r.result for r in pipeline.read([CTGOV / "nsclc-v2-json"]) if r.result.id == "NCT04811001"]
    study, *referred = resources(trial, "R4")
    del study["focus"]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [*referred, study]]}
    (back,) = resources_in(bundle, "memory")
    assert [(i.type, i.name, i.other_names, i.arm_labels) for i in back.interventions] == [
        (i.type, i.name, i.other_names, i.arm_labels) for i in trial.interventions
    ]
    assert unexpected(back) == []
    plan = next(r for r in referred if r["resourceType"] == "PlanDefinition")
    del plan["title"]
    del study["protocol"][0]["display"]
    (back,) = resources_in(bundle, "memory")
    assert [i.name for i in back.interventions] == ["Dacomitinib"]
    (diagnostic,) = unexpected(back)
    assert diagnostic.code == "fhir-plan-without-title" and plan["id"] in diagnostic.message


def with_items(trial: Trial, inclusion: list[str], exclusion: list[str]) -> Trial:
    """The trial with these criteria (a block given criteria is no longer one the mapping could not split)."""
    eligibility = trial.eligibility.model_copy(update={"inclusion": inclusion, "exclusion": exclusion})
    diagnostics = [d for d in trial.diagnostics if d.code != UNSPLIT]
    return trial.model_copy(update={"eligibility": eligibility, "diagnostics": diagnostics})


def read_back(trial: Trial, version: str) -> Trial:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources(trial, version)],
    }
    (back,) = resources_in(bundle, "memory")
    assert isinstance(back, Trial), back
    return back


@pytest.mark.parametrize("version", VERSIONS)
def test_criteria_given_one_by_one_come_back_the_same(trials, version):
    """Every real criteria block's paragraphs given as criteria (the first half inclusion, the rest
    exclusion: real text, with its line breaks, markers and any character the records hold) come back
    the same, in order, with the block, the ages and the sex, which are not taken for criteria."""
    checked = 0
    for trial in trials:
        block = trial.eligibility.criteria if trial.eligibility else None
        if not block:
            continue
        paragraphs = [p.strip() for p in block.split("\n\n") if p.strip()]
        half = len(paragraphs) // 2
        given = with_items(trial, paragraphs[:half], paragraphs[half:])
        back = read_back(given, version)
        assert (back.eligibility.inclusion, back.eligibility.exclusion) == (paragraphs[:half], paragraphs[half:])
        assert unexpected(back) == []
        same(given, back)
        checked += 1
    assert checked > 350


def test_the_records_have_criteria_to_keep(trials):
    """The mapping splits the real records' blocks into criteria, so the round trips above keep real ones."""
    split = [t for t in trials if t.eligibility and t.eligibility.inclusion and t.eligibility.exclusion]
    assert len(split) > 300


def _nct03459976(trials: list[Trial]) -> Trial:
    return next(t for t in trials if t.id == "NCT03459976" and t.source.format == "ctgov-xml")


def test_a_group_of_other_hands_reads_what_it_codes(trials):
    """NCT03459976 (legacy XML: Female, 40 Years to 70 Years): a Group's characteristics not coded as ours
    are passed over, an age with a UCUM code but no unit text reads with the unit's word, an excluded sex
    is no sex the study takes, and a Group without criteria leaves the block to be split as read."""
    trial = with_items(_nct03459976(trials), ["Age (45 - 70 yr old)."], ["Smoker."])
    study, *referred = resources(trial, "R5")
    group = next(r for r in referred if r["resourceType"] == "Group")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [*referred, study]]}
    criterion, _, age, sex = group["characteristic"]
    assert criterion["valueCodeableConcept"] == {"text": "Age (45 - 70 yr old)."}
    (back,) = resources_in(bundle, "memory")
    eligibility = back.eligibility
    assert (eligibility.inclusion, eligibility.exclusion) == (["Age (45 - 70 yr old)."], ["Smoker."])
    assert (eligibility.sex, eligibility.minimum_age, eligibility.maximum_age) == ("FEMALE", "40 Years", "70 Years")
    del age["valueRange"]["low"]["unit"], age["valueRange"]["high"]
    group["characteristic"] = [
        {"code": {"text": "criterion"}, "valueCodeableConcept": {"text": "Smoker."}, "exclude": True},
        criterion,
        {**sex, "exclude": True},
        age,
    ]
    (back,) = resources_in(bundle, "memory")
    eligibility = back.eligibility
    assert (eligibility.inclusion, eligibility.exclusion) == (["Age (45 - 70 yr old)."], [])
    assert (eligibility.sex, eligibility.minimum_age, eligibility.maximum_age) == (None, "40 Years", None)
    assert eligibility.criteria == trial.eligibility.criteria
    group["characteristic"] = [sex, age]  # no criteria: the block split as any reader's is
    (back,) = resources_in(bundle, "memory")
    assert (back.eligibility.inclusion, back.eligibility.exclusion) == (
        _nct03459976(trials).eligibility.inclusion,
        _nct03459976(trials).eligibility.exclusion,
    )
    assert back.eligibility.sex == "FEMALE"


def test_the_split_criteria_of_a_real_record_come_back(tmp_path):
    """NCT03459976 as read (its block split by the mapping) exported to R5, R4B and R4 files and read back:
    the criteria read by hand from the record, one inclusion and eight numbered exclusion criteria."""
    source = CTGOV / "aact-fixtures" / "legacy-xml" / "NCT03459976.xml"
    assert pipeline.convert([source], tmp_path, ["fhir"], options={"fhir_version": "all"}).exit_code == 0
    exclusion = [
        "Age more than 70 yr and less than 40 yr.",
        "Abnormal cardiac hematological renal hepatic functions.",
        "Breast cancer or other malignancies.",
        "Concomitant benign and for malignant adnexal pathologies.",
        "Hormonal medication.",
        "Patient taking or having chemo-radiotherapy.",
        "Patients unfit for surgical intervention.",
        "Smoker.",
    ]
    for version in VERSIONS:
        for name in ("bundle.json", "ResearchStudy.ndjson", "NCT03459976.json"):
            (back,) = [r.result for r in pipeline.read([tmp_path / "fhir" / version / name])]
            assert back.eligibility.inclusion == ["Age (45 - 70 yr old)."], (version, name)
            assert back.eligibility.exclusion == exclusion, (version, name)
