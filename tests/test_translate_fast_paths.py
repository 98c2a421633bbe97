"""Shortcuts for the usual case in the translator's per-resource checks give exactly what the full checks give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.translate.checks import _PATIENT_REFERENCE, not_this_patients
from cds_service.translate.common import _LOWER_CASE, _TIDY_CODES, tidy_status

IDS = st.text(st.sampled_from(list("aZ09-._/ é\t")), max_size=70) | st.sampled_from(["p", "x" * 64, "x" * 65, ""])


@settings(max_examples=2000, deadline=None)
@given(IDS)
def test_own_reference_shortcut_agrees_with_the_pattern(patient_id):
    """`subject: Patient/<context patient>` is this patient's exactly when the reference pattern says so."""
    text = "Patient/" + patient_id
    match = _PATIENT_REFERENCE.search(text.strip())
    expected_ok = match is not None and match.group(1) == patient_id
    resource = {"resourceType": "Observation", "subject": {"reference": text}}
    assert (not_this_patients(resource, patient_id) is None) == expected_ok


def _reference_tidy_status(resource: dict) -> dict:
    fixed = None
    for key in _LOWER_CASE:
        value = resource.get(key)
        if type(value) is str:
            clean = value.strip().lower()
            if clean != value:
                fixed = fixed or dict(resource)
                fixed[key] = clean
    return fixed or resource


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(sorted(_TIDY_CODES)) | st.text(st.sampled_from(list("aFinl -\t")), max_size=12),
       st.sampled_from(sorted(_TIDY_CODES)) | st.text(st.sampled_from(list("oRde \n")), max_size=8))
def test_tidy_status_shortcut_agrees(status, intent):
    resource = {"resourceType": "MedicationRequest", "status": status, "intent": intent}
    assert tidy_status(resource) == _reference_tidy_status(resource)
    assert (tidy_status(resource) is resource) == (_reference_tidy_status(resource) is resource)
