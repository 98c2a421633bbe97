"""After the infusion: the zolgensma-monitoring service (patient-view, and order-select of lab orders)."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from conftest import TODAY
from fhir_fake import FakeFhir, both_routes, hook_request, load, monitoring_names, with_prednisolone

from cds_service.extensions import MONITORING as EXT_MONITORING
from cds_service.facts import Evidence, Measurement, PatientFacts, PriorDose
from cds_service.fhir_validation import model_for
from cds_service.hooks import MONITORING, SERVICES
from cds_service.rules.monitoring import evaluate_monitoring

URL = "/cds-services/zolgensma-monitoring"
SOURCES = SERVICES[MONITORING].sources

# scenario -> (day, overdue tests, alert codes, {(test, day): status} that must hold). The fixtures of days 0-27
# hold no corticosteroid order or administration: "steroid-course-none" (review 2026-11-24d S5).
EXPECTED = {
    "monitoring-day-3": (3, [], ["steroid-course-none"], {("lft", 7): "upcoming"}),
    "monitoring-day-20": (20, [], ["steroid-course-none"],
                          {("lft", 14): "done", ("lft", 21): "due", ("troponin-i", 21): "due"}),
    "monitoring-day-31-normal": (31, [], ["taper-now"], {("lft", 28): "done", ("lft", 42): "upcoming"}),
    "monitoring-day-31-abnormal": (31, [], ["alt-ast-2x-after-course"], {("lft", 28): "abnormal"}),
    "monitoring-day-45-overdue": (45, ["lft", "platelets", "troponin-i"], ["taper-needs-lft"],
                                  {("lft", 21): "overdue", ("lft", 28): "overdue", ("lft", 42): "due"}),
    "monitoring-day-100-abnormal": (100, [], ["continue-past-month-3", "alt-ast-2x-after-course"],
                                    {("lft", 98): "abnormal", ("lft", 112): "upcoming", ("platelets", 84): "done"}),
    "monitoring-tma": (10, [], ["tma-signs", "steroid-course-none"], {("platelets", 7): "abnormal"}),
    "monitoring-day-14-liver-injury": (15, [], ["acute-liver-injury", "steroid-course-none"],
                                       {("lft", 14): "abnormal"}),
    "monitoring-day-35-unscheduled": (35, [], ["alt-ast-2x-after-course"],
                                      {("lft", 28): "done", ("lft", 35): "abnormal", ("lft", 42): "upcoming"}),
    # Issue 17 part 2: past month 3 with every draw done and normal, the outcomes milestones.
    "monitoring-month-6-due": (182, [], [], {("lft", 84): "done", ("troponin-i", 84): "done"}),
    "monitoring-month-12-done": (368, [], [], {("lft", 84): "done"}),
    "monitoring-month-13-overdue": (418, [], [], {("platelets", 84): "done"}),
}


def _post(client, name, mode="prefetch", hook="patient-view", body=None):
    body = body or hook_request(name, hook, mode, sources=SOURCES)
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def _outcome(response) -> dict:
    return response["cards"][0]["extension"]["org.example.zolgensma-cds.monitoring"]


def _strip_ids(body):
    if isinstance(body, dict):
        return {k: _strip_ids(v) for k, v in body.items() if k != "uuid"}
    if isinstance(body, list):
        return [_strip_ids(v) for v in body]
    return body


def test_every_monitoring_fixture_has_an_expectation():
    assert set(monitoring_names()) == set(EXPECTED) | {"monitoring-no-infusion"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_monitoring_scenarios_through_prefetch_and_fhir_server(name, client, rsps):
    via_prefetch = both_routes(client, URL, name, "patient-view", SOURCES, rsps)

    day, overdue, alerts, statuses = EXPECTED[name]
    outcome = _outcome(via_prefetch)
    assert outcome["day"] == day and outcome["asOf"] == TODAY.isoformat()
    assert outcome["infusionEvidence"] == "MedicationAdministration/zolgensma-infusion"
    items = {(i["test"], i["day"]): i["status"] for i in outcome["items"]}
    for key, status in statuses.items():
        assert items[key] == status, (key, items)
    assert sorted({t for (t, _), s in items.items() if s == "overdue"}) == sorted(overdue)
    assert sorted(a["code"] for a in outcome.get("alerts", [])) == sorted(alerts)
    for card in via_prefetch["cards"]:
        assert len(card["summary"]) < 140 and card["source"]["label"]
        for s in card.get("suggestions", []):
            for action in s["actions"]:
                model_for(action["resource"]["resourceType"]).model_validate(action["resource"])


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_no_administration_no_cards(client, rsps, mode):
    FakeFhir(load("monitoring-no-infusion")).register(rsps)
    assert _post(client, "monitoring-no-infusion", mode=mode) == {"cards": []}


def test_eligibility_fixtures_without_infusion_give_no_monitoring_cards(client):
    assert _post(client, "eligible-infant") == {"cards": []}


def test_overdue_labs_get_orders_for_today(client):
    cards = _post(client, "monitoring-day-45-overdue")["cards"]
    card = cards[0]  # the order sits on the card that says what is overdue; no second card repeats the list
    late = [i for i in card["extension"][EXT_MONITORING]["items"] if i["status"] == "overdue"]
    assert card["summary"] == f"Zolgensma day 45: {len(late)} monitoring draws overdue " \
        "(LFT, platelets and troponin-I): order them now"
    assert not any("overdue" in c["summary"] for c in cards[1:])
    assert card["indicator"] == "warning"
    resources = [a["resource"] for a in card["suggestions"][0]["actions"]]
    assert [r["code"]["coding"][0]["code"] for r in resources] == ["24325-3", "5902-2", "777-3", "10839-9"]
    assert all(r["occurrencePeriod"] == {"start": "2026-11-23"} for r in resources)
    assert "day 21" in card["detail"] and "day 28" in card["detail"]


def test_no_orders_when_nothing_is_overdue(client):
    cards = _post(client, "monitoring-day-20")["cards"]
    assert not any("overdue" in c["summary"] or c["suggestions"][0]["label"].startswith("Order overdue")
                   for c in cards if c.get("suggestions"))


def test_taper_suggested_with_dates_when_unremarkable(client):
    cards = _post(client, "monitoring-day-31-normal")["cards"]
    card = next(c for c in cards if "taper over 28 days" in c["summary"])
    [action] = card["suggestions"][0]["actions"]
    taper = action["resource"]
    assert taper["medicationCodeableConcept"]["coding"][0]["code"] == "8638"
    period = taper["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    # the course ended on day 28 (2026-11-20); the order is not dated in the past: today + 27 days
    assert period == {"start": "2026-11-23", "end": "2026-12-20"}
    assert "2026-11-23 to 2026-12-20" in card["detail"] and "never before today" in card["detail"]
    assert "1 mg/kg/day continues until the taper starts" in card["detail"]
    assert "2026-11-23 to 2026-12-20" in taper["dosageInstruction"][0]["text"]
    assert "doseAndRate" not in taper["dosageInstruction"][0]  # the prescriber sets the steps


def test_persisting_2x_uln_is_critical_hepatology_without_taper(client):
    cards = _post(client, "monitoring-day-31-abnormal")["cards"]
    critical = [c for c in cards[1:] if c["indicator"] == "critical"]  # the first card shows the worst alert
    assert len(critical) == 1 and "hepatology" in critical[0]["summary"]
    assert cards[0]["indicator"] == "critical"
    assert "Do not taper" in critical[0]["detail"]
    assert "- 120 U/L, ULN 45 U/L on 2026-11-20 (Observation/alt-d28)" in critical[0]["detail"]
    assert not any("taper over 28 days" in c["summary"] for c in cards)


def test_uln_unknown_is_said_plainly_and_blocks_the_taper(client):
    body = hook_request("monitoring-day-31-normal", "patient-view", sources=SOURCES)
    for entry in body["prefetch"]["labs"]["entry"]:
        if entry["resource"]["id"] == "alt-d28":
            entry["resource"].pop("referenceRange")
    cards = _post(client, None, body=body)["cards"]
    card = next(c for c in cards if c["summary"].startswith("Taper decision blocked"))
    assert card["summary"].endswith("on ALT") and card["indicator"] == "warning"
    assert "does not guess a ULN" in card["detail"]
    assert not any("taper over 28 days" in c["summary"] for c in cards)


def test_bilirubin_above_normal_means_continue_steroid(client):
    body = hook_request("monitoring-day-31-normal", "patient-view", sources=SOURCES)
    for entry in body["prefetch"]["labs"]["entry"]:
        if entry["resource"]["id"] == "tbili-d28":
            entry["resource"]["valueQuantity"]["value"] = 2.0
    cards = _post(client, None, body=body)["cards"]
    card = next(c for c in cards if c["summary"].startswith("Liver tests not yet unremarkable"))
    assert card["suggestions"][0]["actions"][0]["resource"]["code"]["coding"][0]["code"] == "24325-3"


LAB_ORDERS_URL = "/cds-services/zolgensma-monitoring-lab-orders"
CT_HEAD = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "70450",
                       "display": "Computed tomography, head or brain; without contrast material"}]}


@pytest.mark.parametrize("code, category, answers", [
    ({"coding": [{"system": "http://loinc.org", "code": "24325-3"}], "text": "Hepatic function panel"}, None, True),
    ({"text": "Hepatic function panel"}, "108252007", True),
    ({"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "85025"}]}, None, True),  # CBC
    (CT_HEAD, None, False),  # imaging, as the sandbox's PAMA tab sends it
    ({"text": "Hepatic function panel"}, None, False),  # text alone does not make a lab order
])
def test_lab_order_service_answers_for_lab_orders_only(client, code, category, answers):
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SOURCES)
    order = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "order", "code": code,
             "subject": {"reference": "Patient/monitoring-day-45-overdue"}}
    if category:
        order["category"] = [{"coding": [{"system": "http://snomed.info/sct", "code": category}]}]
    body["hook"] = "order-select"
    body["context"].update(draftOrders={"resourceType": "Bundle", "entry": [{"resource": order}]},
                           selections=["ServiceRequest/sr-1"])
    response = client.post(LAB_ORDERS_URL, json=body)
    assert response.status_code == 200
    assert bool(response.json["cards"]) is answers
    body["context"]["selections"] = []
    assert client.post(LAB_ORDERS_URL, json=body).json == {"cards": []}


def test_each_monitoring_hook_has_its_own_service_id(client):
    entries = [(s["id"], s["hook"]) for s in client.get("/cds-services").json["services"]]
    assert ("zolgensma-monitoring", "patient-view") in entries
    assert ("zolgensma-monitoring-lab-orders", "order-select") in entries
    assert len({i for i, _ in entries}) == len(entries)
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SOURCES)
    body["hook"] = "order-select"  # no longer advertised there, still answered like the lab-order service
    body["context"].update(draftOrders={"resourceType": "Bundle", "entry": []}, selections=[])
    assert client.post(URL, json=body).json == {"cards": []}


def test_wrong_hook_for_monitoring_is_400(client):
    body = hook_request("monitoring-day-3", "patient-view", sources=SOURCES)
    body["hook"] = "order-sign"  # a real order-sign context (draft orders) sent to the patient-view service
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": []}
    assert client.post(URL, json=body).status_code == 400


# --- pure rules ----------------------------------------------------------------------------------
def _facts(day0: date, measurements: list[Measurement]) -> PatientFacts:
    f = PatientFacts("Patient/p")
    f.prior_doses = [PriorDose("MedicationAdministration/z", day0, "Zolgensma")]
    f.measurements = measurements
    return f


def _m(analyte, value, when, low=None, high=None):
    return Measurement(analyte, value, "x", when, f"Observation/{analyte}-{when}", ref_low=low, ref_high=high)


@pytest.mark.parametrize("today, status", [(date(2026, 1, 5), "upcoming"), (date(2026, 1, 6), "due"),
                                           (date(2026, 1, 11), "due"), (date(2026, 1, 12), "overdue")])
def test_due_and_overdue_boundaries(today, status):
    ev = evaluate_monitoring(_facts(date(2026, 1, 1), []), today)  # day-7 draw due 2026-01-08
    item = next(i for i in ev.items if i.test == "platelets" and i.day == 7)
    assert item.status == status


def test_draw_counts_within_two_days_only():
    day0 = date(2026, 1, 1)
    ev = evaluate_monitoring(_facts(day0, [_m("platelets", 300, date(2026, 1, 10))]), date(2026, 1, 12))
    assert next(i for i in ev.items if i.test == "platelets" and i.day == 7).status == "done"
    assert not next(i for i in ev.items if i.test == "platelets" and i.day == 7).late


@pytest.mark.parametrize("drawn, today, status, late", [
    (date(2026, 1, 11), date(2026, 1, 12), "done", True),  # day 10 (+3): "due" until then, so it counts, late
    (date(2026, 1, 12), date(2026, 1, 13), "done", True),  # day 11 (+4): fills the open day-7 draw, late
    (date(2026, 1, 13), date(2026, 1, 13), "missed", False),  # day 12: the day-14 draw's, on time; day 7 missed
])
def test_a_late_draw_fills_its_open_draw_and_older_open_draws_are_missed(drawn, today, status, late):
    ev = evaluate_monitoring(_facts(date(2026, 1, 1), [_m("platelets", 300, drawn)]), today)
    item = next(i for i in ev.items if i.test == "platelets" and i.day == 7)
    assert (item.status, item.late) == (status, late)
    assert not [i for i in ev.items if not i.scheduled] and "platelets" not in ev.overdue_tests


def test_monitoring_stops_after_month_3_when_unremarkable_and_back_to_baseline():
    day0 = date(2026, 1, 1)
    ms = [_m("platelets", 300, date(2025, 12, 28)), _m("troponin-i", 0.01, date(2025, 12, 28), high=0.04)]
    ms += [_m(a, v, date(2026, 3, 26), high=h) for a, v, h in (("alt", 30, 45), ("ast", 40, 60),
                                                                ("bilirubin", 0.4, 1.2), ("pt", 12, 13.5))]
    ms += [_m("platelets", 290, date(2026, 3, 26)), _m("troponin-i", 0.01, date(2026, 3, 26), high=0.04)]
    ev = evaluate_monitoring(_facts(day0, ms), date(2026, 4, 15))
    assert ev.continuing == ()
    assert max(i.day for i in ev.items) == 84


def test_platelet_fall_alone_and_troponin_rise():
    day0 = date(2026, 1, 1)
    ms = [_m("platelets", 300, date(2025, 12, 28)), _m("platelets", 120, date(2026, 1, 8), low=150),
          _m("troponin-i", 0.01, date(2025, 12, 28), high=0.04), _m("troponin-i", 0.2, date(2026, 1, 8), high=0.04)]
    ev = evaluate_monitoring(_facts(day0, ms), date(2026, 1, 9))
    codes = {a.code: a.severity for a in ev.alerts}
    # day 8, no medication source read in these facts: the prednisolone course cannot be confirmed (S5)
    assert codes == {"platelet-fall": "critical", "troponin-rise": "warning", "steroid-course-unread": "warning"}


def test_latest_administration_is_day_0():
    f = _facts(date(2026, 1, 1), [])
    f.prior_doses.append(PriorDose("Procedure/p", date(2026, 1, 3), "Zolgensma infusion"))
    ev = evaluate_monitoring(f, date(2026, 1, 10))
    assert ev.day == 7 and ev.infusion_evidence == Evidence("Procedure/p", "Zolgensma infusion on 2026-01-03")
    assert copy.deepcopy(ev.items) == ev.items


def test_completed_order_is_dated_by_its_planned_infusion_date(client):
    body = hook_request("monitoring-day-20", "patient-view", sources=SOURCES)
    administration = body["prefetch"]["medicationAdministrations"]
    infusion_day = administration["entry"][0]["resource"]["effectiveDateTime"]
    body["prefetch"]["medicationAdministrations"] = None
    body["prefetch"]["medicationRequests"] = {"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "MedicationRequest", "id": "z-done", "status": "completed", "intent": "order",
        "authoredOn": "2026-10-01", "subject": {"reference": "Patient/monitoring-day-20"},
        "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "71894-129-05"}]},
        "dosageInstruction": [{"timing": {"event": [infusion_day]}}]}}]}
    outcome = _outcome(_post(client, None, body=body))
    assert outcome["infusionDate"] == infusion_day and outcome["day"] == 20
    assert outcome["infusionEvidence"] == "MedicationRequest/z-done"


@pytest.mark.parametrize("name, alert, first_summary", [
    ("monitoring-day-14-liver-injury", "acute-liver-injury",
     "Zolgensma day 15: possible acute liver injury (ALT 9.0 x ULN, bilirubin 2.6 x ULN, PT 16.5 s): act now"),
    ("monitoring-day-35-unscheduled", "alt-ast-2x-after-course",
     "Zolgensma day 35: ALT at or above 2 x ULN after the steroid course: act now"),
])
@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_liver_injury_is_critical_at_any_day_and_leads(name, alert, first_summary, mode, client, rsps):
    FakeFhir(load(name)).register(rsps)
    cards = _post(client, name, mode=mode)["cards"]
    assert cards[0]["indicator"] == "critical" and cards[0]["summary"] == first_summary  # names the alert
    assert cards[1]["indicator"] == "critical" and "hepatology" in cards[1]["summary"].lower()
    assert "…" not in cards[1]["summary"] and len(cards[1]["summary"]) < 140  # whole, not cut off
    assert "alert(s)" not in cards[0]["summary"]
    assert _outcome({"cards": cards})["alerts"][0] == {**_outcome({"cards": cards})["alerts"][0], "code": alert,
                                                       "severity": "critical"}
    if alert == "acute-liver-injury":  # thresholds and their sources are on the card; no plain 2 x ULN warning
        detail = cards[1]["detail"]
        assert "ALT 405 U/L (9.0 x ULN)" in detail and "total bilirubin 3.1 mg/dL (2.6 x ULN)" in detail
        assert "Hy's law" in detail and "Pediatric Acute Liver Failure Study Group" in detail
        assert "section 5.1" in detail and "PT 16.5 s" in detail
        assert not any("examine, re-check" in c["summary"] for c in cards)


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_unscheduled_draw_appears_in_the_table(mode, client, rsps):
    FakeFhir(load("monitoring-day-35-unscheduled")).register(rsps)
    cards = _post(client, "monitoring-day-35-unscheduled", mode=mode)["cards"]
    row = next(i for i in _outcome({"cards": cards})["items"] if i["day"] == 35)
    assert (row["test"], row["status"], row["unscheduled"], row["due"]) == ("lft", "abnormal", True, "2026-11-23")
    assert "Observation/alt-d35" in row["evidence"]
    row_text = ("| 35 | 2026-11-23 | Liver function (AST, ALT, total bilirubin, PT/INR) | "
                "**done, abnormal (unscheduled draw)**")
    assert row_text in cards[0]["detail"]
    scheduled = [i for i in _outcome({"cards": cards})["items"] if i["day"] == 28 and i["test"] == "lft"]
    assert scheduled and "unscheduled" not in scheduled[0]


# --- clinician review (2026-11-23) -------------------------------------------------------------------
def _both(client, rsps, name, resources):
    """Cards for a changed record, through prefetch and through the FHIR server (identical)."""
    via_prefetch = _post(client, None, body=hook_request(name, "patient-view", sources=SOURCES, resources=resources))
    fake = FakeFhir(resources)
    fake.register(rsps)
    via_server = _post(client, None, body=hook_request(name, "patient-view", "server", sources=SOURCES,
                                                       resources=resources))
    assert fake.calls and _strip_ids(via_prefetch) == _strip_ids(via_server)
    return via_prefetch["cards"]


def _changed(name, values: dict, drop_range=()):
    resources = copy.deepcopy(load(name))
    for r in resources:
        if r.get("id") in values:
            r["valueQuantity"]["value"] = values[r["id"]]
        if r.get("id") in drop_range:
            r.pop("referenceRange")
    return resources


def _drawn_today(name, day, tests):
    """The scenario's record plus normal results of `tests` drawn today (fixture values and ranges)."""
    resources = copy.deepcopy(load(name))
    for test in tests:
        template = copy.deepcopy(next(r for r in resources if r.get("id") == f"{test}-d-4"))
        template.update(id=f"{test}-d{day}", effectiveDateTime=TODAY.isoformat())
        resources.append(template)
    return resources


@pytest.mark.parametrize("lab_id, value, shown", [("tbili-d14", 3.0, "total bilirubin 3 mg/dL (ULN 1.2 mg/dL)"),
                                                  ("pt-d14", 20, "PT 20 s (ULN 13.5 s)")])
def test_bilirubin_or_pt_above_uln_alone_is_a_warning(lab_id, value, shown, client, rsps):
    resources = with_prednisolone(_changed("monitoring-day-20", {lab_id: value}), "monitoring-day-20")
    cards = _both(client, rsps, "monitoring-day-20", resources)
    alerts = _outcome({"cards": cards})["alerts"]
    assert [(a["code"], a["severity"]) for a in alerts] == [("bilirubin-pt-above-uln", "warning")]
    assert alerts[0]["evidence"] == [f"Observation/{lab_id}"]
    assert cards[0]["indicator"] == "warning"
    card = next(c for c in cards[1:] if c["indicator"] == "warning")
    assert "above normal" in card["summary"] and shown in card["detail"]


def test_bilirubin_without_reference_range_raises_no_guessed_alert(client, rsps):
    resources = with_prednisolone(_changed("monitoring-day-20", {"tbili-d14": 3.0}, drop_range=("tbili-d14",)),
                                  "monitoring-day-20")
    cards = _both(client, rsps, "monitoring-day-20", resources)
    assert not _outcome({"cards": cards}).get("alerts")


def test_taper_after_late_liver_tests_starts_today_and_runs_28_days(client, rsps):
    resources = _drawn_today("monitoring-day-45-overdue", 45, ("alt", "ast", "tbili", "pt"))
    cards = _both(client, rsps, "monitoring-day-45-overdue", resources)
    card = next(c for c in cards if "taper over 28 days" in c["summary"])
    taper = card["suggestions"][0]["actions"][0]["resource"]
    assert taper["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-11-23",
                                                                                  "end": "2026-12-20"}
    assert "ended 2026-11-06" in card["detail"]


def test_todays_draws_fill_the_open_draw_and_clear_the_overdue_reminder(client, rsps):
    resources = _drawn_today("monitoring-day-45-overdue", 45, ("alt", "ast", "tbili", "pt", "platelets"))
    cards = _both(client, rsps, "monitoring-day-45-overdue", resources)
    outcome = _outcome({"cards": cards})
    items = {(i["test"], i["day"]): i for i in outcome["items"]}
    for test in ("lft", "platelets"):
        assert items[(test, 42)]["status"] == "done" and items[(test, 42)]["late"] is True
        assert items[(test, 21)]["status"] == items[(test, 28)]["status"] == "missed"
    assert "Observation/platelets-d45" in items[("platelets", 42)]["evidence"]
    assert not [i for i in outcome["items"] if i.get("unscheduled")]
    assert "overdue (troponin-I)" in cards[0]["summary"]  # the one test not drawn today
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in cards[0]["suggestions"][0]["actions"]]
    assert codes == ["10839-9"]
    assert "| 42 | 2026-11-20 | Platelet count | **done (late)** |" in cards[0]["detail"]
    assert "**missed (a later draw covers it)**" in cards[0]["detail"]


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_day_45_without_liver_tests_or_steroid_order_says_so_and_orders_each_test_once(mode, client, rsps):
    """No corticosteroid order on record (read completely): never "continue prednisolone" as if one ran."""
    FakeFhir(load("monitoring-day-45-overdue")).register(rsps)
    cards = _post(client, "monitoring-day-45-overdue", mode=mode)["cards"]
    card = next(c for c in cards if c["summary"].startswith("No active prednisolone order"))
    assert card["summary"] == ("No active prednisolone order since day 28 (2026-11-06): confirm if stopped; draw "
                               "liver tests")
    assert card["indicator"] == "warning"
    assert "**No active prednisolone or other corticosteroid order is on record**" in card["detail"]
    assert "ended 2026-11-06" in card["detail"] and "ended or ends" not in card["detail"]
    assert "draw liver tests (ALT, AST, total bilirubin, PT/INR) today" in card["detail"]
    assert "not to stop or taper systemic corticosteroids until liver findings are unremarkable" in card["detail"]
    assert not any("continue prednisolone" in c["summary"] for c in cards)
    assert "ordered from the first card" in card["detail"] and not card.get("suggestions")
    codes = [a["resource"]["code"]["coding"][0]["code"] for c in cards for s in c.get("suggestions", [])
             for a in s["actions"] if a["resource"]["resourceType"] == "ServiceRequest"]
    assert sorted(codes) == sorted(set(codes)) == sorted(["24325-3", "5902-2", "777-3", "10839-9"])


def test_schedule_and_orders_name_the_label_section_of_each_test(client):
    cards = _post(client, "monitoring-day-45-overdue")["cards"]
    intro = cards[0]["detail"]
    assert "liver injury); platelets on the same schedule (Warnings and Precautions: thrombocytopenia" in intro
    assert "monthly (Warnings and Precautions: elevated troponin-I)" in intro
    overdue = cards[0]
    reasons = {a["resource"]["code"]["coding"][0]["code"]: a["resource"]["reasonCode"][0]["text"]
               for a in overdue["suggestions"][0]["actions"]}
    assert "boxed warning" in reasons["24325-3"] and "boxed warning" not in reasons["777-3"]
    assert "thrombocytopenia" in reasons["777-3"] and "troponin-I" in reasons["10839-9"]
    assert "Platelet monitoring: FDA label Warnings and Precautions" in overdue["detail"]


def test_low_platelets_show_the_lower_limit(client):
    cards = _post(client, "monitoring-tma")["cards"]
    card = next(c for c in cards[1:] if "TMA" in c["summary"])
    assert "60 × 10^3/µL, lower limit 150 × 10^3/µL on" in card["detail"]
    assert "ULN 450" not in card["detail"]


def _with_prednisolone(name: str, **changes) -> list[dict]:
    resources = load(name)
    order = {"resourceType": "MedicationRequest", "id": "pred-course", "status": "active", "intent": "order",
             "subject": {"reference": f"Patient/{name}"},
             "medicationCodeableConcept": {"text": "prednisolone 15 mg/5 mL oral solution"},
             "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d",
                                                          "boundsPeriod": {"start": "2026-10-08"}}},
                                    "doseAndRate": [{"doseQuantity": {"value": 7, "unit": "mg",
                                                                      "system": "http://unitsofmeasure.org",
                                                                      "code": "mg"}}]}]}
    order.update(changes)
    return resources + [order]


def test_day_45_with_an_active_prednisolone_order_says_continue(client):
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SOURCES,
                        resources=_with_prednisolone("monitoring-day-45-overdue"))
    cards = _post(client, None, body=body)["cards"]
    card = next(c for c in cards if c["summary"].startswith("End-of-course liver tests needed before the taper"))
    assert "continue prednisolone 1 mg/kg/day" in card["summary"]
    assert "MedicationRequest/pred-course" in card["detail"]


def test_day_45_steroid_order_that_ended_is_named_with_its_end(client):
    resources = _with_prednisolone("monitoring-day-45-overdue", status="completed")
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SOURCES, resources=resources)
    card = next(c for c in _post(client, None, body=body)["cards"]
                if c["summary"].startswith("No active prednisolone order"))
    assert "MedicationRequest/pred-course" in card["detail"]


def test_day_45_unreadable_medication_order_never_says_none_on_record(client):
    resources = load("monitoring-day-45-overdue") + [
        {"resourceType": "MedicationRequest", "id": "broken", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/monitoring-day-45-overdue"}, "medicationCodeableConcept": 7}]
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SOURCES, resources=resources)
    cards = _post(client, None, body=body)["cards"]
    assert not any(c["summary"].startswith("No active prednisolone order") for c in cards)
    card = next(c for c in cards
                if c["summary"].startswith("End-of-course liver tests needed before the taper decision; steroid"))
    assert "**The corticosteroid orders could not all be read**" in card["detail"]


# review 2026-11-24 item 11: the first card never says "next none" nor "on schedule" beside an overdue milestone
@pytest.mark.parametrize("name, summary", [
    ("monitoring-month-6-due", "Zolgensma day 182: scheduled lab monitoring complete"),
    ("monitoring-month-12-done", "Zolgensma day 368: scheduled lab monitoring complete"),
    ("monitoring-month-13-overdue",
     "Zolgensma day 418: scheduled lab monitoring complete; month-12 milestone assessment overdue"),
])
def test_first_card_reads_naturally_when_the_lab_schedule_is_over(name, summary, client, rsps):
    cards = both_routes(client, URL, name, "patient-view", SOURCES, rsps)["cards"]
    assert cards[0]["summary"] == summary
    assert not any("next none" in c["summary"] or "(s)" in c["summary"] for c in cards)


def test_overdue_summary_has_no_plural_in_brackets(client):
    cards = _post(client, "monitoring-day-45-overdue")["cards"]
    assert cards[0]["summary"].startswith("Zolgensma day 45: 6 monitoring draws overdue")
