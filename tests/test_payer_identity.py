"""DR.005.D is Jefferson Health Plans' policy ("This policy applies to Jefferson Health Plans Medicaid, CHIP and
Medicare product lines", Product variations): a Coverage with another payer, or naming none, is not evaluated as
covered under it. Each case through prefetch and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, load

SIGN = "/cds-services/zolgensma-order-sign"
EXT = "org.example.zolgensma-cds.eligibility"


def _with_coverage(**changes) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    coverage = next(r for r in resources if r["resourceType"] == "Coverage")
    coverage.update(changes)
    if "class" not in changes:
        coverage.pop("class", None)  # its plan name says "Jefferson Health Plans Medicaid"
    return resources


def _benefit(answer: dict) -> dict:
    outcome = answer["cards"][0]["extension"][EXT]
    return next(c for c in outcome["criteria"] if c["id"] == "benefit-covered") | {"overall": outcome["overall"]}


def _card(answer: dict) -> dict:
    """The benefit-covered criterion card."""
    return next(c for c in answer["cards"] if c["summary"].startswith("Active coverage is with another payer"))


def test_the_policy_payer_medicaid_line_is_met(client):
    got = _benefit(answer_both_routes(client, _with_coverage(payor=[{"display": "Jefferson Health Plans, Inc."}])))
    assert got["status"] == "met" and got["overall"] == "eligible"


def test_another_payers_medicaid_plan_is_not_evaluated_as_covered(client):
    answer = answer_both_routes(client, _with_coverage(payor=[{"display": "Aetna Better Health of Pennsylvania"}],
                                            type={"text": "Medicaid"}))
    got = _benefit(answer)
    assert got["status"] == "unknown" and got["reasonCode"] == "other-payer"
    assert got["overall"] != "eligible"
    card = _card(answer)
    assert "Aetna Better Health of Pennsylvania" in card["summary"]
    assert "Jefferson Health Plans" in card["detail"] and "DR.005.D" in card["detail"]
    assert "Coverage/coverage-1" in card["detail"]  # the evidence: which Coverage
    assert "another payer" in answer["cards"][0]["summary"]  # the first card names the problem
    # Card.source.label names the insurer only when the service speaks for it (CRD): not for another payer.
    assert {c["source"]["label"] for c in answer["cards"]}.isdisjoint({"Aetna Better Health of Pennsylvania"})


def test_a_coverage_naming_no_payer_is_unknown(client):
    got = _benefit(answer_both_routes(client, _with_coverage(payor=[{"reference": "Organization/org-9"}],
                                                  type={"text": "Medicaid"})))
    assert got["status"] == "unknown" and got["reasonCode"] == "payer-not-named"


def test_self_pay_is_another_payer(client):
    got = _benefit(answer_both_routes(client, _with_coverage(payor=[{"reference": "Patient/eligible-infant"}],
                                                  type={"text": "Medicaid"})))
    assert got["status"] == "unknown" and got["reasonCode"] == "other-payer"


def test_another_payers_aca_plan_is_not_excluded_under_dr005d(client):
    """The ACA exclusion is Jefferson's: another payer's Individual & Family plan is that payer's question."""
    got = _benefit(answer_both_routes(client, _with_coverage(payor=[{"display": "Ambetter from PA Health & Wellness"}],
                                                  type={"text": "Individual and Family (ACA) plan"})))
    assert got["status"] == "unknown" and got["reasonCode"] == "other-payer"


def test_the_policy_payers_coverage_counts_beside_another(client):
    resources = _with_coverage(payor=[{"display": "Jefferson Health Plans"}], type={"text": "Medicaid"})
    resources.append({"resourceType": "Coverage", "id": "coverage-2", "status": "active", "type": {"text": "Medicaid"},
                      "beneficiary": {"reference": "Patient/eligible-infant"},
                      "payor": [{"display": "Aetna Better Health"}]})
    got = _benefit(answer_both_routes(client, resources))
    assert got["status"] == "met"


@pytest.fixture
def alias_client():
    return make_app(POLICY_PAYER_NAMES="JHP, Health Partners Plans").test_client()


def test_a_configured_name_identifies_the_policy_payer(alias_client):
    record = _with_coverage(payor=[{"display": "jhp"}], type={"text": "Medicaid"})
    got = _benefit(answer_both_routes(alias_client, record))
    assert got["status"] == "met"


def test_payer_text_is_escaped(client):
    answer = answer_both_routes(client, _with_coverage(payor=[{"display": "**Acme** [plan](http://x.example) <b>"}],
                                            type={"text": "Medicaid"}))
    card = _card(answer)
    assert r"\*\*Acme\*\* \[plan\](http\://x.example) \<b\>" in card["detail"]  # literal text, not markup
    assert "<b>" not in card["detail"].replace(r"\<b\>", "")
