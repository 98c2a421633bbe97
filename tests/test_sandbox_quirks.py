"""What the CDS Hooks sandbox sends that no EHR should, and what the service answers (README "Trying it in the
CDS Hooks sandbox on one machine")."""

from __future__ import annotations

import pytest
from fhir_fake import hook_request

from cds_service.services import MONITORING, READINESS, SERVICES


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize(("service", "name"), [(MONITORING, "monitoring-day-45-overdue"),
                                               (READINESS, "readiness-nothing-done")])
def test_a_patient_view_call_stamped_with_the_sandbox_current_hook_gets_no_cards(client, service, name, hook):
    """Opened on Patient View with ?hook=order-select, the sandbox calls the patient-view services with
    hook "order-select" and a patient-view context (no draft orders)."""
    body = hook_request(name, "patient-view", sources=SERVICES[service].sources)
    assert client.post(f"/cds-services/{service}", json=body).json["cards"]  # as patient-view: cards
    body["hook"] = hook
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200 and response.json == {"cards": []}


@pytest.mark.parametrize("service", [MONITORING, READINESS])
def test_an_order_hook_with_draft_orders_sent_to_a_patient_view_service_is_still_refused(client, service):
    body = hook_request("monitoring-day-45-overdue", "order-sign")
    assert client.post(f"/cds-services/{service}", json=body).status_code == 400


def test_the_order_services_never_take_a_patient_view_context_as_an_order_call(client):
    body = hook_request("eligible-infant", "patient-view")
    body["hook"] = "order-sign"
    assert client.post("/cds-services/zolgensma-order-sign", json=body).status_code == 422
