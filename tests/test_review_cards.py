"""The clinician/payer review of 2026-11-24, order-time part (items 4, 5, 8, 14): the first card names each
problem with its value and date, never an unqualified "can go ahead" next to a warning card, and criterion cards
word an `unknown` status by its reason. Every scenario through prefetch and through the FHIR server."""

from __future__ import annotations

import pytest
from fhir_fake import FakeFhir, hook_request, load

from cds_service.extensions import CRITERION

MODES = ["prefetch", "server"]
HOOKS = ["order-sign", "order-select"]


def _cards(client, rsps, name: str, mode: str, hook: str = "order-sign") -> list[dict]:
    FakeFhir(load(name)).register(rsps)
    response = client.post(f"/cds-services/zolgensma-{hook}", json=hook_request(name, hook, mode))
    assert response.status_code == 200
    return response.json["cards"]


def _criterion_card(cards: list[dict], criterion: str) -> dict:
    return next(c for c in cards if c.get("extension", {}).get(CRITERION, {}).get("id") == criterion)


# Review item 4: a warning card stands next to an eligible outcome.
GO_AHEAD_AFTER_CHECKS = {
    "baseline-platelets-low": "Zolgensma can go ahead after 1 check: platelets 112 × 10^3/µL below range",
    "site-office": "Zolgensma can go ahead after 1 check: site of care POS 11 (Office) not accepted",
    "weight-between-bands": "Zolgensma can go ahead after 1 check: confirm dose band for 3.05 kg (16.5 vs 19.3 mL)",
}
# Review items 5 and 8: the problem with its value where it fits, not "not met" / "missing".
FIRST_SUMMARIES = {
    "titer-1-100": "Do not infuse Zolgensma: AAV9 titer 1:100 (2026-11-20) above 1:50 (DR.005.D 6)",
    "titer-stale": "Zolgensma not ready: AAV9 titer too old (2026-11-01; 14-day window)",
    "titer-nab-by-name": "Zolgensma not ready: AAV9 titer <1:25 (2026-11-20) not by ELISA",
    "titer-positive": "Zolgensma not ready: AAV9 result on record is not a titer",
    "titer-method-unstated": "Zolgensma not ready: AAV9 titer <1:25 (2026-11-20) method not stated; ELISA needed",
    "genetics-carrier": "Zolgensma not ready: SMN1 result shows a carrier (1 allele), not bi-allelic loss",
    "dose-vg-per-kg": "Zolgensma not ready: dose ordered per kg, not as the 41.3 mL volume",
    "planned-date-last-year": "Zolgensma not ready: steroid timing unverifiable (no usable planned date)",
    "age-25-months": "Do not infuse Zolgensma: age 25 months on 2026-12-01, not under 2",
    "steroid-7-days": "Do not infuse Zolgensma: steroid ends 2026-12-06, before day 28 (2026-12-29)",
}
# The status line of the criterion card, by reason: data exist, so not "(data missing)".
STATUS_LINES = {
    "titer-stale": ("aav9-titer", "unknown (titer too old)"),
    "titer-nab-by-name": ("aav9-titer", "unknown (titer not by ELISA)"),
    "titer-positive": ("aav9-titer", "unknown (result is not a titer)"),
    "genetics-carrier": ("smn1-biallelic", "unknown (carrier result: one allele, not bi-allelic)"),
    "dose-vg-per-kg": ("dose-within-label", "unknown (dose given per kg; volume not stated)"),
    "planned-date-last-year": ("corticosteroid-plan", "unknown (order found; timing cannot be checked)"),
    "no-steroid-plan": ("corticosteroid-plan", "unknown (data missing)"),
}


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(GO_AHEAD_AFTER_CHECKS))
def test_go_ahead_names_the_warning_that_stands(client, rsps, name, mode, hook):
    cards = _cards(client, rsps, name, mode, hook)
    assert cards[0]["summary"] == GO_AHEAD_AFTER_CHECKS[name]
    assert cards[0]["indicator"] == "warning"  # still the worst of the response
    assert "**Check before infusion (warning cards below):**" in cards[0]["detail"]


@pytest.mark.parametrize("mode", MODES)
def test_go_ahead_without_warnings_counts_the_checks_accurately(client, rsps, mode):
    first = _cards(client, rsps, "eligible-infant", mode)[0]
    assert first["summary"] == ("Zolgensma can go ahead: all 14 checks met as of 2026-12-01 "
                                "(DR.005.D 1-11, renewal, plan line; label weight); PA still required")
    assert "14 DR.005.D criteria" not in first["detail"]
    assert "DR.005.D initial criteria 1-11, its renewal rule" in first["detail"]
    # the met checks' evidence on the first card, one line each (value, unit, date, resource)
    assert "- AAV9 titer: titer \\<1:25, method ELISA (from Observation.method), on 2026-11-20 (Observation/aav9)" \
        in first["detail"]
    assert "- plan coverage: Medicaid; Jefferson Health Plans Medicaid (HealthChoices) (Coverage/coverage-1)" \
        in first["detail"]  # no stray "Medicaid; :" from a class without a type text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FIRST_SUMMARIES))
def test_first_card_names_the_problem_with_its_value(client, rsps, name, mode):
    assert _cards(client, rsps, name, mode)[0]["summary"] == FIRST_SUMMARIES[name]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(STATUS_LINES))
def test_unknown_status_is_worded_by_its_reason(client, rsps, name, mode):
    criterion, label = STATUS_LINES[name]
    detail = _criterion_card(_cards(client, rsps, name, mode), criterion)["detail"]
    assert f"**Status:** {label}\n" in detail
    assert f"(`{criterion}`)" not in detail  # the rule id stays in the machine-readable extension


# Review item 12: two overlapping corticosteroid orders are a prescribing error, not a referral.
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("mode", MODES)
def test_duplicate_steroid_order_is_a_prescriber_warning_with_a_delete(client, rsps, mode, hook):
    cards = _cards(client, rsps, "steroid-two-orders", mode, hook)
    first = cards[0]
    assert first["summary"] == ("Zolgensma not ready, fix the orders: 2 overlapping steroid orders (2.91 mg/kg/day): "
                                "cancel the duplicate")
    assert "Medical Director" not in first["summary"] + first["detail"]
    outcome = first["extension"]["org.example.zolgensma-cds.eligibility"]
    assert outcome["overall"] == "needs-review"  # the status stays conservative: never met
    card = _criterion_card(cards, "corticosteroid-plan")
    assert card["indicator"] == "warning" and card["extension"][CRITERION]["status"] == "review"
    assert "**Status:** prescribing error: fix before signing" in card["detail"]
    assert "referred for review" not in card["detail"]
    [suggestion] = card["suggestions"]
    # CDS Hooks 2.0: a delete names the resource by a relative reference in resourceId, no resource
    assert suggestion["actions"] == [{"type": "delete",
                                      "description": "Cancel duplicate corticosteroid order "
                                                     "MedicationRequest/prednisolone-plan-2",
                                      "resourceId": "MedicationRequest/prednisolone-plan-2"}]


# Review item 8: a titer above 1:50 may be repeated (clinical-facts 1.7).
@pytest.mark.parametrize("mode", MODES)
def test_titer_above_limit_offers_a_repeat_titer_order(client, rsps, mode):
    card = _criterion_card(_cards(client, rsps, "titer-1-100", mode), "aav9-titer")
    assert card["indicator"] == "critical"
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == ("Repeat anti-AAV9 total antibody titer by ELISA "
                                   "(the label allows a retest above 1:50)")
    [action] = suggestion["actions"]
    resource = action["resource"]
    assert action["type"] == "create" and resource["resourceType"] == "ServiceRequest"
    assert "coding" not in resource["code"]  # no verified LOINC code for the anti-AAV9 titer: text only
    assert resource["code"]["text"].startswith("Anti-AAV9")
    assert resource["occurrencePeriod"] == {"end": "2026-11-30"}  # before the planned infusion (2026-12-01)


# Review item 9: the label's baseline creatinine (LOINC 2160-0) missing is a warning, not blocking.
@pytest.mark.parametrize("mode", MODES)
def test_missing_baseline_creatinine_is_a_warning_with_its_order(client, rsps, mode):
    cards = _cards_without_creatinine(client, rsps, "eligible-infant", mode)
    outcome = cards[0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert outcome["overall"] == "eligible"  # criterion 9 is platelets and troponin-I: not blocking
    assert cards[0]["summary"].startswith("Zolgensma can go ahead after 1 check: baseline Serum creatinine")
    assert cards[0]["indicator"] == "warning"
    monitoring = next(c for c in cards if c["summary"].startswith("Zolgensma monitoring"))
    assert monitoring["indicator"] == "warning"
    assert "2160-0" in _suggested_codes(monitoring)


@pytest.mark.parametrize("mode", MODES)
def test_baseline_panel_orders_creatinine_with_platelets_and_troponin(client, rsps, mode):
    cards = _cards_without_creatinine(client, rsps, "missing-labs", mode)
    assert "2160-0" in _suggested_codes(_criterion_card(cards, "baseline-platelets-troponin"))
    monitoring = next(c for c in cards if c["summary"].startswith("Zolgensma monitoring"))
    assert "2160-0" not in _suggested_codes(monitoring)  # ordered once, on the baseline panel


def _cards_without_creatinine(client, rsps, name: str, mode: str) -> list[dict]:
    """Order-sign cards for scenario `name` with its creatinine result removed from the record (both routes)."""
    resources = [r for r in load(name) if r.get("id") != "creatinine"]
    FakeFhir(resources).register(rsps)
    body = hook_request(name, "order-sign", mode, resources=resources)
    return client.post("/cds-services/zolgensma-order-sign", json=body).json["cards"]


def _suggested_codes(card: dict) -> list[str]:
    return [coding["code"] for s in card.get("suggestions", []) for a in s["actions"]
            for coding in a["resource"]["code"].get("coding", [])]


@pytest.mark.parametrize("mode", MODES)
def test_data_issue_count_is_a_plain_plural(client, rsps, mode):
    summaries = [c["summary"] for c in _cards(client, rsps, "titer-positive", mode)]
    assert "1 data item could not be used by the Zolgensma PA check" in summaries
    assert not any("(s)" in s for s in summaries)


# Review item 12: a corticosteroid course that ends before day 28 is offered an update extending it.
@pytest.mark.parametrize("mode", MODES)
def test_short_steroid_course_offers_an_update_to_day_28(client, rsps, mode):
    card = _criterion_card(_cards(client, rsps, "steroid-7-days", mode), "corticosteroid-plan")
    assert card["indicator"] == "critical" and card["extension"][CRITERION]["status"] == "not-met"
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert action["type"] == "update"
    original = next(r for r in load("steroid-7-days") if r.get("id") == "prednisolone-plan")
    updated = action["resource"]
    assert updated["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-11-30",
                                                                                   "end": "2026-12-29"}
    # the resource in its entirety (CDS Hooks update): everything else as it was
    updated["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = \
        original["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"]
    assert updated == original
