"""Review 2026-11-24g G8: the readiness plan is never calmer than the order-sign check on the same data. A
baseline result order-sign warns about (met with a caution) is a check before infusion; a gate it refers to the
Medical Director is named with its problem, never a plain "to do". Both routes, identical answers."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load

from cds_service.hooks import READINESS, SERVICES

URL = "/cds-services/zolgensma-readiness"
NAME = "readiness-all-done"  # every gate met for 2026-12-01


def _readiness(client, oid=None, value=None):
    resources = copy.deepcopy(load(NAME))
    if oid:
        next(r for r in resources if r.get("id") == oid)["valueQuantity"]["value"] = value
    return answer_both_routes(client, resources, url=URL, name=NAME, hook="patient-view",
                              sources=SERVICES[READINESS].sources)["cards"][0]


def _order_sign(client, oid, value):
    resources = copy.deepcopy(load("eligible-infant"))
    next(r for r in resources if r.get("id") == oid)["valueQuantity"]["value"] = value
    return answer_both_routes(client, resources)["cards"][0]


def test_control_every_gate_met_stays_info(client):
    card = _readiness(client)
    assert card["summary"] == "Zolgensma readiness: every gate met for an infusion on 2026-12-01"
    assert card["indicator"] == "info"


@pytest.mark.parametrize("oid, value, check", [
    ("platelets", 40, "platelets 40 × 10^3/µL below range"),
    ("troponin", 0.5, "troponin-I 0.5 ng/mL above range"),
])
def test_a_baseline_result_order_sign_warns_about_is_a_check_not_every_gate_met(client, oid, value, check):
    card = _readiness(client, oid, value)
    assert card["summary"] == f"Zolgensma readiness: ready for 2026-12-01 after 1 check: {check}"
    assert card["indicator"] == "warning"
    assert "| Baseline platelet count and troponin-I | **done, check before infusion** |" in card["detail"]
    assert "every gate met" not in card["summary"]
    signed = _order_sign(client, oid, value)  # the same words as the order-sign check on the same result
    assert signed["indicator"] == "warning" and check in signed["summary"]


def test_alt_above_2x_uln_is_a_medical_director_review_not_a_to_do(client):
    card = _readiness(client, "alt", 300)
    assert card["summary"] == "Zolgensma readiness for 2026-12-01: Medical Director review: ALT above 2 × ULN"
    assert card["indicator"] == "warning"
    assert "to do: baseline liver tests" not in card["summary"]
    assert "| Baseline liver function: AST, ALT, total bilirubin, prothrombin time | **review** |" in card["detail"]
    signed = _order_sign(client, "alt", 300)
    assert signed["summary"] == "Zolgensma needs Medical Director review: ALT above 2 × ULN"
