"""Zolgensma is one dose: a second open Zolgensma order, drafted in the same ordering session or already on record,
is never ignored. Found by the clinician review of 2026-11-24: with two drafts, only the first was checked, so an
overdosed second draft (60.5 mL for 7.2 kg) was signed under "can go ahead". Each case runs through prefetch and
through the FHIR server, with identical results (test_integrity.both)."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import hook_request, load
from test_integrity import both, coverage_covered, criterion, outcome

SELECT = "/cds-services/zolgensma-order-select"


def _zolgensma_order(record: list[dict]) -> dict:
    return next(r for r in record if r["resourceType"] == "MedicationRequest" and r.get("status") == "draft")


def _second_order(status: str = "draft", volume: float = 60.5) -> list[dict]:
    record = load("eligible-infant")
    second = copy.deepcopy(_zolgensma_order(record))
    second["id"] = "zolgensma-order-2"
    second["status"] = status
    for dosage in second.get("dosageInstruction", []):
        for dose in dosage.get("doseAndRate", []):
            if "doseQuantity" in dose:
                dose["doseQuantity"]["value"] = volume
    return record + [second]


@pytest.mark.parametrize("status", ["draft", "active"])
def test_a_second_open_zolgensma_order_is_not_met_whichever_comes_first(rsps, status):
    response = both(rsps, resources=_second_order(status))
    finding = criterion(response, "one-time-dose")
    assert (finding["status"], finding["reasonCode"]) == ("not-met", "several-zolgensma-orders")
    assert outcome(response)["overall"] == "not-eligible"
    assert finding["evidence"] == ["MedicationRequest/zolgensma-order", "MedicationRequest/zolgensma-order-2"]
    assert response["cards"][0]["indicator"] == "critical"
    assert "2 open Zolgensma orders" in response["cards"][0]["summary"]
    card = next(c for c in response["cards"] if c["summary"].startswith("2 open Zolgensma orders"))
    assert card["indicator"] == "critical" and "dose 60.5 mL (MedicationRequest/zolgensma-order-2)" in card["detail"]
    assert coverage_covered(response) != "covered"


def test_the_order_of_the_drafts_does_not_change_the_answer(rsps):
    record = _second_order()
    reordered = [r for r in record if r.get("id") == "zolgensma-order-2"] + \
        [r for r in record if r.get("id") != "zolgensma-order-2"]
    answers = [outcome(both(rsps, resources=r)) for r in (record, reordered)]
    assert [a["overall"] for a in answers] == ["not-eligible", "not-eligible"]
    assert {c["id"]: c["status"] for c in answers[0]["criteria"]}["one-time-dose"] == "not-met"
    assert {c["id"]: c["status"] for c in answers[1]["criteria"]}["one-time-dose"] == "not-met"


def test_order_select_of_one_draft_still_sees_the_other_draft():
    """order-select: only the selection is checked, but the other Zolgensma draft of the session still counts."""
    body = hook_request("eligible-infant", "order-select", resources=_second_order())
    body["context"]["selections"] = ["MedicationRequest/zolgensma-order-2"]
    response = make_app().test_client().post(SELECT, json=body)
    assert response.status_code == 200
    finding = criterion(response.json, "one-time-dose")
    assert (finding["status"], finding["reasonCode"]) == ("not-met", "several-zolgensma-orders")


@pytest.mark.parametrize("status", ["completed", "cancelled", "entered-in-error"])
def test_closed_orders_are_not_a_second_open_order(rsps, status):
    """A completed order is a prior dose (its own reason); a cancelled one or one entered in error is nothing."""
    response = both(rsps, resources=_second_order(status, volume=41.3))
    finding = criterion(response, "one-time-dose")
    assert finding["reasonCode"] == ("prior-dose" if status == "completed" else "no-prior-dose")


def test_a_second_order_with_an_unreadable_dosage_is_still_named_and_read_once(rsps):
    """A prior or other Zolgensma order is read leniently (its dosage may be invalid): the duplicate is named, and
    no second, stricter reading reports it as unreadable."""
    record = _second_order("active")
    second = next(r for r in record if r.get("id") == "zolgensma-order-2")
    second["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": {"value": "forty", "unit": "mL"}}]
    response = both(rsps, resources=record)
    finding = criterion(response, "one-time-dose")
    assert (finding["status"], finding["reasonCode"]) == ("not-met", "several-zolgensma-orders")
    second_ref = "MedicationRequest/zolgensma-order-2"
    unread = [i for i in outcome(response).get("dataIssues", []) if i["source"] == second_ref]
    assert not any(i["problem"].startswith("skipped") for i in unread), unread
