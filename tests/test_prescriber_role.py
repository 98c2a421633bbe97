"""Criterion 1 counts only the ordering user's own, current role (review 2026-11-24b item J1): a PractitionerRole
whose `practitioner` is the context.userId practitioner, or the role that is the user (userId
PractitionerRole/y). Another practitioner's role (a server ignoring `practitioner=`, extra roles in the prefetch
Bundle) is skipped and reported; a role marked inactive, or whose period does not cover today and the evaluation
date, does not count. Through prefetch and the FHIR server, with identical answers."""

from __future__ import annotations

import copy

import pytest
import responses
from fhir_fake import (
    FakeFhir,
    answer_both_routes,
    criterion_card,
    criterion_outcome,
    hook_request,
    load,
    without_generated_ids,
)

SIGN = "/cds-services/zolgensma-order-sign"
NUCC = "http://nucc.org/provider-taxonomy"
CHILD_NEUROLOGY = [{"coding": [{"system": NUCC, "code": "2084N0402X", "display": "Child Neurology"}]}]
PEDIATRICS = [{"coding": [{"system": NUCC, "code": "208000000X", "display": "Pediatrics"}]}]
OTHERS_ROLE = {"resourceType": "PractitionerRole", "id": "r2", "active": True,
               "practitioner": {"reference": "Practitioner/other"}, "specialty": CHILD_NEUROLOGY}


def _record(**own_role) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    next(r for r in resources if r.get("id") == "neuro-1-role").update(own_role)
    return resources


def _with_extra_roles(query: str, answer: dict) -> dict:
    """What an EHR's PractitionerRole search may return: the user's roles and another practitioner's."""
    if query.startswith("PractitionerRole?") and answer.get("resourceType") == "Bundle":
        answer = {**answer, "entry": answer["entry"] + [{"resource": copy.deepcopy(OTHERS_ROLE)}]}
    return answer


def _specialist(answer: dict) -> dict:
    return criterion_outcome(answer, "specialist-prescriber")


def _issues(answer: dict) -> str:
    return next(c for c in answer["cards"] if "could not be used by the Zolgensma PA check" in c["summary"])["detail"]


def test_another_practitioners_role_in_the_answer_does_not_count(client):
    """The reviewer's case: the user's own role is Pediatrics; another practitioner's child-neurology role."""
    answer = answer_both_routes(client, _record(specialty=PEDIATRICS), tamper=_with_extra_roles)
    got = _specialist(answer)
    assert (got["status"], got["reasonCode"]) == ("unknown", "specialist-not-documented")
    assert got["overall"] == "incomplete"
    card = criterion_card(answer, "specialist-prescriber")
    assert "Practitioner/other" not in card["detail"] and "PractitionerRole/r2" not in card["detail"]
    assert "Pediatrics" in card["detail"]  # the user's own specialty, shown as not an SMA specialty
    assert ("PractitionerRole/r2: not counted: a role of Practitioner/other, not of the ordering user "
            "Practitioner/neuro-1") in _issues(answer)


def test_a_server_ignoring_the_practitioner_parameter(client):
    record = _record(specialty=PEDIATRICS) + [copy.deepcopy(OTHERS_ROLE)]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(record, ignore=("practitioner",)).register(rsps)
        answer = client.post(SIGN, json=hook_request("eligible-infant", mode="server", resources=record)).json
    assert _specialist(answer)["status"] == "unknown"
    assert "PractitionerRole/r2: not counted" in _issues(answer)


def test_the_users_own_role_counts_beside_anothers(client):
    answer = answer_both_routes(client, _record(), tamper=_with_extra_roles)
    got = _specialist(answer)
    assert (got["status"], got["evidence"]) == ("met", ["PractitionerRole/neuro-1-role"])
    assert "Practitioner/other" not in answer["cards"][0]["detail"]


@pytest.mark.parametrize("reference, counts", [
    ("https://ehr.example.org/fhir/Practitioner/neuro-1", True),  # the same practitioner, absolute
    ("Practitioner/neuro-1/_history/3", True),
    ("Practitioner/neuro-10", False),
    ("Practitioner/neuro", False),
])
def test_the_role_is_matched_on_the_practitioner_reference(client, reference, counts):
    record = _record(practitioner={"reference": reference})
    role = next(r for r in record if r.get("id") == "neuro-1-role")

    def returned(query: str, answer: dict) -> dict:  # the search answers with the role whatever its reference
        if query.startswith("PractitionerRole?"):
            answer = {**answer, "total": 1, "entry": [{"resource": copy.deepcopy(role)}]}
        return answer

    answer = answer_both_routes(client, record, tamper=returned)
    assert (_specialist(answer)["status"] == "met") is counts
    if not counts:
        assert f"not counted: a role of {reference}, not of the ordering user" in _issues(answer)


@pytest.mark.parametrize("period, why", [
    ({"start": "2020-01-01", "end": "2025-01-01"}, "ended 2025-01-01"),
    ({"end": "2026-11-25"}, "ended 2026-11-25"),  # held today, not on the planned infusion date 2026-12-01
    ({"start": "2026-11-28"}, "starts 2026-11-28"),  # not yet held today, when the order is signed
])
def test_a_role_not_held_on_the_dates_does_not_count(client, period, why):
    answer = answer_both_routes(client, _record(period=period))
    got = _specialist(answer)
    assert (got["status"], got["reasonCode"]) == ("unknown", "specialist-role-not-current")
    card = criterion_card(answer, "specialist-prescriber")
    assert card["summary"] == (f"The SMA specialist role on record is not current ({why}): confirm the specialist "
                               "(DR.005.D criterion 1)")
    assert "(PractitionerRole/neuro-1-role)" in card["detail"] and "role period" in card["detail"]


def test_a_role_held_through_the_dates_counts(client):
    got = _specialist(answer_both_routes(client, _record(period={"start": "2020-01-01", "end": "2027-06-30"})))
    assert (got["status"], got["overall"]) == ("met", "eligible")


def test_an_inactive_role_does_not_count_and_is_reported(client):
    answer = answer_both_routes(client, _record(active=False))
    assert _specialist(answer)["status"] == "unknown"
    assert "PractitionerRole/neuro-1-role: not counted: the role is marked inactive" in _issues(answer)


def _as_role_user(resources: list[dict], mode: str) -> dict:
    """A request whose user is the PractitionerRole itself: the EHR cannot fill the practitioner search, so
    the prefetch has no roles and the service reads the role by id."""
    body = hook_request("eligible-infant", mode=mode, resources=resources)
    body["context"]["userId"] = "PractitionerRole/neuro-1-role"
    (body.get("prefetch") or {}).pop("practitionerRoles", None)
    return body


def test_the_user_that_is_a_role_counts_only_that_role(client):
    answers = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(_record()).register(rsps)
        for mode in ("prefetch", "server"):
            answers.append(client.post(SIGN, json=_as_role_user(_record(), mode)).json)
    assert without_generated_ids(answers[0]) == without_generated_ids(answers[1])
    got = _specialist(answers[0])
    assert (got["status"], got["evidence"]) == ("met", ["PractitionerRole/neuro-1-role"])
