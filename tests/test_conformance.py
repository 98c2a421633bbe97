"""CDS Hooks 2.0.1 and Da Vinci CRD conformance choices (issue 15): names, versions, orders, required fields."""

from __future__ import annotations

import re

from fhir_fake import hook_request

SIGN = "/cds-services/zolgensma-order-sign"
REVERSE_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _post(client, body, service=SIGN, status=200):
    response = client.post(service, json=body)
    assert response.status_code == status, response.json
    return response.json


def test_card_extensions_have_reverse_domain_names(client):
    cards = _post(client, hook_request("missing-labs"))["cards"]
    names = {name for card in cards for name in card.get("extension", {})}
    assert names == {"org.example.zolgensma-cds.eligibility", "org.example.zolgensma-cds.criterion"}
    assert all(REVERSE_DOMAIN.match(n) for n in names)
    monitoring = _post(client, hook_request("monitoring-day-45-overdue", "patient-view"),
                       "/cds-services/zolgensma-monitoring")["cards"]
    assert "org.example.zolgensma-cds.monitoring" in monitoring[0]["extension"]


def test_card_source_label_is_the_insurer_on_the_coverage(client):
    cards = _post(client, hook_request("missing-labs"))["cards"]
    assert {c["source"]["label"] for c in cards} == {"Jefferson Health Plans"}


def test_card_source_label_without_coverage_is_the_service(client):
    body = hook_request("missing-labs")
    body["prefetch"]["coverage"] = None
    cards = _post(client, body)["cards"]
    assert {c["source"]["label"] for c in cards} == {"Zolgensma PA check (policy DR.005.D + FDA label)"}
