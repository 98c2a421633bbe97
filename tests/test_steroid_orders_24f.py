"""Review 2026-11-24f, items F5 and F7: the prednisolone course (FDA label 2.1; DR.005.D criterion 7).

F5: a prednisolone order on record that cannot be read is not "missing": the answer is `unknown` naming the order and
why, and no second order is suggested (accepting it would double the dose if the unread order is the course).
F7: an infusion planned for today leaves day -1 in the past: the suggested course starts today, never yesterday, and
says the infusion must move. Each case through prefetch and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy
import json

import pytest
import responses
from conftest import TODAY, make_app
from fhir_fake import FakeFhir, answer_both_routes, criterion_card, criterion_outcome, hook_request, load

STEROID = "corticosteroid-plan"


@pytest.fixture
def client():
    return make_app().test_client()


def _changed(rid: str, change) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    change(next(r for r in resources if r.get("id") == rid))
    return resources


def _steroid_suggestions(answer: dict) -> list[dict]:
    return [s for c in answer["cards"] for s in c.get("suggestions") or () if "prednisolone" in s["label"].lower()]


def _dose_value(value):
    def change(order):
        order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = value
    return change


def test_an_unreadable_prednisolone_order_is_named_and_no_second_order_is_suggested(client):
    answer = answer_both_routes(client, _changed("prednisolone-plan", _dose_value("7")))  # a decimal sent as text
    got = criterion_outcome(answer, STEROID)
    assert (got["status"], got["reasonCode"]) == ("unknown", "steroid-order-unreadable")
    card = criterion_card(answer, STEROID)
    assert "could not be read" in card["summary"] and "missing" not in card["summary"]
    assert "MedicationRequest/prednisolone-plan" in card["detail"] and "doseQuantity.value" in card["detail"]
    assert "No new order is suggested" in card["detail"]
    assert _steroid_suggestions(answer) == []
    every = " ".join(c["summary"] for c in answer["cards"])
    assert "prednisolone order missing" not in every


def test_a_non_finite_dose_gives_the_same_answer_on_both_routes():
    """NaN is what lenient JSON writers emit; both routes parse it the same way (jsonio.loads), and validation then
    refuses it. The prefetch body is posted as written (the test client's own JSON writer would turn NaN into null)."""
    resources = _changed("prednisolone-plan", _dose_value(float("nan")))
    answers = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(resources).register(rsps)
        for mode in ("prefetch", "server"):
            body = json.dumps(hook_request("eligible-infant", mode=mode, resources=resources))
            assert mode == "server" or "NaN" in body
            response = make_app().test_client().post("/cds-services/zolgensma-order-sign", data=body,
                                                     content_type="application/json")
            assert response.status_code == 200
            answers.append(response.json)
    for answer in answers:
        got = criterion_outcome(answer, STEROID)
        assert (got["status"], got["reasonCode"]) == ("unknown", "steroid-order-unreadable")
        assert _steroid_suggestions(answer) == []


def test_a_readable_order_elsewhere_still_decides_and_an_absent_one_is_still_missing(client):
    absent = copy.deepcopy(load("eligible-infant"))
    absent = [r for r in absent if r.get("id") != "prednisolone-plan"]
    got = criterion_outcome(answer_both_routes(client, absent), STEROID)
    assert (got["status"], got["reasonCode"]) == ("unknown", "no-steroid-plan")
    assert criterion_outcome(answer_both_routes(client, load("eligible-infant")), STEROID)["status"] == "met"


def _planned(day: str) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    resources = [r for r in resources if r.get("id") != "prednisolone-plan"]
    order = next(r for r in resources if r.get("id") == "zolgensma-order")
    order["dosageInstruction"][0]["timing"]["event"] = [day]
    return resources


def test_an_infusion_planned_today_gets_a_course_from_today_never_yesterday(client):
    answer = answer_both_routes(client, _planned(TODAY.isoformat()))
    (suggestion,) = _steroid_suggestions(answer)
    resource = suggestion["actions"][0]["resource"]
    bounds = resource["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    assert bounds == {"start": "2026-11-23", "end": "2026-12-22"}  # 30 doses from today
    assert suggestion["label"].endswith("from 2026-11-23 and move the infusion to 2026-11-24")
    notes = " ".join(n["text"] for n in resource["note"])
    assert "planned for 2026-11-23 cannot have the label's day -1 start" in notes
    assert "Start 2026-11-23 (the day before infusion)" in resource["dosageInstruction"][0]["text"]


def test_an_infusion_planned_tomorrow_keeps_day_minus_1_today(client):
    answer = answer_both_routes(client, _planned("2026-11-24"))
    (suggestion,) = _steroid_suggestions(answer)
    resource = suggestion["actions"][0]["resource"]
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"] == "2026-11-23"
    assert suggestion["label"].endswith("x 30 days from 2026-11-23")
    assert len(resource["note"]) == 1
