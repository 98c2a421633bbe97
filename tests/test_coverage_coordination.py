"""Review 2026-11-24e T6 and T7: what else the Coverages say beside the policy's plan line. Another payer's primary
coverage ahead of Jefferson Health Plans Medicaid (coordination of benefits), a Medicare line for an infant, and a
payor whose display names the plan while its reference names another Organization. Each case through prefetch and
through the FHIR server (FakeFhir), with identical answers; the card a clinician reads is checked."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

BENEFIT = "benefit-covered"
PRIMARY_ACA = {"resourceType": "Coverage", "id": "cov2", "status": "active", "order": 1,
               "type": {"text": "Individual and Family ACA plan"},
               "beneficiary": {"reference": "Patient/eligible-infant"},
               "payor": [{"display": "Independence Blue Cross"}]}


def _record(change=None, *extra: dict) -> list[dict]:
    """The eligible infant (JHP Medicaid, Coverage/coverage-1, payor by display only) changed, plus `extra`."""
    resources = copy.deepcopy(load("eligible-infant"))
    coverage = next(r for r in resources if r["resourceType"] == "Coverage")
    if change:
        change(coverage)
    return resources + [copy.deepcopy(r) for r in extra]


def _billing(answer: dict) -> dict:
    return next(c for c in answer["cards"] if c["source"]["topic"]["code"] == "claim")


# --- T6: JHP Medicaid behind another payer's primary plan --------------------------------------------------------


def test_medicaid_behind_another_payers_primary_plan_names_it(client):
    answer = answer_both_routes(client, _record(lambda c: c.__setitem__("order", 2), PRIMARY_ACA))
    got = criterion_outcome(answer, BENEFIT)
    # DR.005.D's own criterion stays met (the plan's Medicaid line); the primary plan is named, never silent.
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "covered-line-last-resort", "eligible")
    card = criterion_card(answer, BENEFIT)
    assert card["indicator"] == "warning"
    assert card["summary"] == ("Primary coverage Independence Blue Cross on record: coordinate benefits; "
                               "Medicaid pays last")
    assert ("Primary coverage Independence Blue Cross (Individual and Family ACA plan) on record (Coverage/cov2, "
            "order 1): coordinate benefits") in card["detail"]
    assert "payer of last resort" in card["detail"] and "that plan's own prior-authorization criteria apply" \
        in card["detail"]
    assert "Coverage/coverage-1" in card["detail"] and "DR.005.D product variations" in card["detail"]
    # The first card is no unqualified "can go ahead"; the billing card does not bill JHP as if primary.
    assert answer["cards"][0]["summary"].startswith("Zolgensma can go ahead after 1 check: primary coverage "
                                                    "Independence Blue Cross")
    assert ("**Bill the primary plan first:** Independence Blue Cross is on record ahead of Jefferson Health Plans; "
            "bill Jefferson Health Plans as secondary") in _billing(answer)["detail"]


def test_medicaid_is_last_whatever_the_record_orders(client):
    """No `order` on either: Medicaid is still the payer of last resort beside a commercial plan."""
    other = {**PRIMARY_ACA, "type": {"text": "Commercial PPO"}, "payor": [{"display": "Aetna"}]}
    del other["order"]
    answer = answer_both_routes(client, _record(None, other))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("met", "covered-line-last-resort")
    assert "Primary coverage Aetna (Commercial PPO) on record (Coverage/cov2): coordinate benefits" \
        in criterion_card(answer, BENEFIT)["detail"]


def test_medicare_line_behind_a_lower_order_is_secondary(client):
    """A JHP Medicare line (an adult's record would be the usual case; here the Medicare-for-a-child check is
    not reached because the birth date is removed) behind another payer's order 1."""
    def medicare_second(coverage):
        coverage.update(order=2, type={"text": "Medicare Advantage"})
        coverage.pop("class")
    resources = _record(medicare_second, PRIMARY_ACA)
    next(r for r in resources if r["resourceType"] == "Patient").pop("birthDate")
    answer = answer_both_routes(client, resources)
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("met", "covered-line-secondary")
    assert "Coverage/cov2, order 1" in criterion_card(answer, BENEFIT)["detail"]


def test_the_clean_case_has_no_coordination_note(client):
    answer = answer_both_routes(client, load("eligible-infant"))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "covered-line", "eligible")
    assert "Bill the primary plan first" not in _billing(answer)["detail"]


def test_another_medicaid_plan_beside_is_no_primary(client):
    other = {**PRIMARY_ACA, "type": {"text": "Medicaid"}, "payor": [{"display": "Aetna Better Health"}]}
    del other["order"]
    got = criterion_outcome(answer_both_routes(client, _record(None, other)), BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("met", "covered-line")


# --- T7 (a): Medicare for an infant ----------------------------------------------------------------------------


def test_a_medicare_line_for_an_infant_is_to_be_confirmed(client):
    def medicare(coverage):
        coverage.update(type={"text": "Medicare"}, relationship={"coding": [{"code": "child"}]})
        coverage.pop("class")
    answer = answer_both_routes(client, _record(medicare))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "medicare-child", "incomplete")
    card = criterion_card(answer, BENEFIT)
    assert card["summary"] == "Medicare coverage recorded for a child (born 2026-03-10): confirm the patient's plan"
    assert "end-stage renal disease" in card["detail"] and "Coverage/coverage-1" in card["detail"]
    assert "Medicare line recorded for a child" in answer["cards"][0]["summary"]


def test_a_medicaid_line_beside_the_medicare_one_is_the_plan(client):
    def medicare(coverage):
        coverage.update(type={"text": "Medicare"})
        coverage.pop("class")
    medicaid = {**PRIMARY_ACA, "type": {"text": "Medicaid"}, "payor": [{"display": "Jefferson Health Plans"}]}
    del medicaid["order"]
    got = criterion_outcome(answer_both_routes(client, _record(medicare, medicaid)), BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("met", "covered-line")


# --- T7 (b): a display naming the plan, a reference naming another --------------------------------------------


def test_a_display_naming_the_plan_does_not_outweigh_a_reference_to_another_organization(client):
    answer = answer_both_routes(client, _record(lambda c: c.__setitem__(
        "payor", [{"reference": "Organization/other", "display": "Jefferson Health Plans"}])))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "payer-conflict", "incomplete")
    card = criterion_card(answer, BENEFIT)
    assert card["summary"].startswith("Coverage payer identity conflicts")
    assert "refers to Organization/other" in card["detail"] and "payer identity conflicts" in card["detail"]
    assert "Coverage/coverage-1" in card["detail"]
    # Card.source.label names the insurer only for the policy's plan (CRD): not on an unconfirmed name.
    assert {c["source"]["label"] for c in answer["cards"]}.isdisjoint({"Jefferson Health Plans"})


def test_a_referenced_organization_read_under_another_name_conflicts(client):
    answer = answer_both_routes(client, _record(lambda c: c.__setitem__(
        "payor", [{"reference": "Organization/ibx", "display": "Jefferson Health Plans"}]),
        {"resourceType": "Organization", "id": "ibx", "name": "Independence Blue Cross"}))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("unknown", "payer-conflict")
    assert "which is named 'Independence Blue Cross'" in criterion_card(answer, BENEFIT)["detail"].replace("\\", "")


def test_the_referenced_organization_read_as_the_plan_is_the_plan(client):
    """The coverage search includes the payor (`_include=Coverage:payor`): read, and named as the plan."""
    answer = answer_both_routes(client, _record(lambda c: c.__setitem__(
        "payor", [{"reference": "Organization/jhp", "display": "JHP"}]),
        {"resourceType": "Organization", "id": "jhp", "name": "Jefferson Health Plans"}))
    got = criterion_outcome(answer, BENEFIT)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "covered-line", "eligible")


def test_a_contained_organization_identifies_the_payer(client):
    def contained(coverage):
        coverage["contained"] = [{"resourceType": "Organization", "id": "p", "name": "Jefferson Health Plans"}]
        coverage["payor"] = [{"reference": "#p", "display": "Jefferson Health Plans"}]
    got = criterion_outcome(answer_both_routes(client, _record(contained)), BENEFIT)
    assert (got["status"], got["reasonCode"]) == ("met", "covered-line")
