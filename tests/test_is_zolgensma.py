"""is_zolgensma, the cheap test every order-select / order-sign call makes to tell a Zolgensma order from any
other, says exactly what medication_kind(...) == "zolgensma" says (it only skips telling the other kinds apart):
over every medication resource of the fixtures and a grid of codings and names built to hit each branch."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from cds_service import terminology as t
from cds_service.translate import is_zolgensma, medication_index, medication_kind

FIXTURES = Path(__file__).resolve().parent.parent / "fhir_fixtures"
MEDICATION_TYPES = ("MedicationRequest", "MedicationAdministration", "MedicationStatement", "MedicationDispense")

CODINGS = [
    {"system": t.NDC, "code": "71894-120-02"},  # a kit
    {"system": t.NDC, "code": "71894011501"},  # the vial, 11 digits
    {"system": t.NDC, "code": "71894-999-01"},  # another product of the labeler
    {"system": t.NDC, "code": "00093-4155-73"},  # another labeler
    {"system": t.HCPCS, "code": "J3399"},
    {"system": next(iter(t.CORTICOSTEROID_CODES))[0], "code": next(iter(t.CORTICOSTEROID_CODES))[1]},
    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "723"},  # amoxicillin
    {"system": "urn:local", "code": "x", "display": "Zolgensma kit"},
    {"system": "urn:local", "code": "y", "display": "Itvisma (onasemnogene abeparvovec-brve)"},
    {"code": None, "display": 5},  # not a string
]
TEXTS = [None, "", "Zolgensma", "onasemnogene abeparvovec-xioi IV", "ONASEMNOGENE  ABEPARVOVEC intrathecal",
         "prednisolone 15 mg/5 mL", "amoxicillin", "  zolgensma\n"]


def _fixture_resources() -> list[tuple[dict, dict]]:
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        resources = [e.get("resource") for e in data.get("entry", []) if isinstance(e, dict)]
        medications = medication_index([r for r in resources if isinstance(r, dict)])
        found += [(r, medications) for r in resources
                  if isinstance(r, dict) and r.get("resourceType") in MEDICATION_TYPES]
    return found


def _generated() -> list[dict]:
    cases = []
    for n in (0, 1, 2):
        for codings in itertools.combinations(CODINGS, n):
            for text in TEXTS:
                concept = {"coding": list(codings)}
                if text is not None:
                    concept["text"] = text
                cases.append({"resourceType": "MedicationRequest", "medicationCodeableConcept": concept})
    cases += [{"resourceType": "MedicationRequest", "medicationReference": {"display": "Zolgensma"}},
              {"resourceType": "MedicationRequest", "medicationReference": {"reference": "Medication/m"}},
              {"resourceType": "MedicationRequest"}, "not a resource", None]
    return cases


def test_the_fixtures_hold_zolgensma_and_other_medications():
    kinds = {medication_kind(r, m) for r, m in _fixture_resources()}
    assert "zolgensma" in kinds and len(kinds - {"zolgensma"}) >= 2, kinds


@pytest.mark.parametrize("resource,medications", _fixture_resources())
def test_agrees_with_medication_kind_on_every_fixture(resource, medications):
    assert is_zolgensma(resource, medications) is (medication_kind(resource, medications) == "zolgensma")


def test_agrees_with_medication_kind_on_every_generated_coding_and_name():
    referenced = {"Medication/m": {"resourceType": "Medication", "id": "m",
                                   "code": {"coding": [CODINGS[0]], "text": "Zolgensma"}}}
    cases = _generated()
    assert len(cases) > 400
    answers = [(is_zolgensma(r, referenced), medication_kind(r, referenced) == "zolgensma") for r in cases]
    assert all(quick is full for quick, full in answers)
    assert {quick for quick, _ in answers} == {True, False}  # the grid reaches both answers
