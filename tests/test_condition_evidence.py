"""Condition evidence names when (onset, else recorded date) and says when a condition has only a code (review
2026-11-24b M1): a ventilator dependence from last month and one from the NICU stay are different questions for
the Medical Director. Through prefetch and the FHIR server, with identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ACTIVE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}


def _with(condition: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [{"resourceType": "Condition", "clinicalStatus": ACTIVE,
                                                      "subject": {"reference": "Patient/eligible-infant"}, **condition}]


def _card(answer: dict, title: str) -> str:
    return next(c["detail"] for c in answer["cards"] if f"**Criterion:** {title}" in c.get("detail", ""))


def test_a_coded_only_ventilator_dependence_shows_its_code_and_onset(client):
    vent = {"coding": [{"system": ICD10CM, "code": "Z99.11"}]}
    answer = answer_both_routes(client, _with({"id": "vent", "code": vent, "onsetDateTime": "2026-10-01"}))
    detail = _card(answer, "No advanced SMA")
    assert r"condition coded \[Z99.11\] (no name in the record), onset 2026-10-01 (Condition/vent)" in detail


def test_an_infection_shows_its_onset_or_recorded_date(client):
    bronchiolitis = {"coding": [{"system": ICD10CM, "code": "J21.9", "display": "Acute bronchiolitis, unspecified"}]}
    answer = answer_both_routes(client, _with({"id": "inf", "code": bronchiolitis, "recordedDate": "2026-11-20"}))
    detail = _card(answer, "No signs or symptoms of infection")
    assert r"Acute bronchiolitis, unspecified \[J21.9\], recorded 2026-11-20 (Condition/inf)" in detail
