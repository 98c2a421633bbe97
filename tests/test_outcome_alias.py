"""The machine-readable outcome under its old name `zolgensma-eligibility`: a DEPRECATED alias of
`org.example.zolgensma-cds.eligibility` on the first card (README "Machine-readable outcome"), on by default,
off with CDS_LEGACY_OUTCOME_ALIAS=false."""

from __future__ import annotations

import pytest
from conftest import make_app
from fhir_fake import hook_request

from cds_service import config
from cds_service.extensions import ELIGIBILITY, LEGACY_ELIGIBILITY

LEGACY = "zolgensma-eligibility"  # the name integrators (and the sandbox e2e driver) read before issue 15


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("name", ["eligible-infant", "titer-1-100", "missing-labs", "aca-plan"])
def test_the_first_card_carries_the_same_outcome_under_the_old_name(client, name, hook):
    response = client.post(f"/cds-services/zolgensma-{hook}", json=hook_request(name, hook))
    first = response.json["cards"][0]
    assert LEGACY_ELIGIBILITY == LEGACY
    assert first["extension"][LEGACY] == first["extension"][ELIGIBILITY]
    assert first["extension"][LEGACY]["policy"] == "DR.005.D" and first["extension"][LEGACY]["criteria"]
    assert all(LEGACY not in card.get("extension", {}) for card in response.json["cards"][1:])


def test_the_alias_is_off_when_configured_so():
    client = make_app(LEGACY_OUTCOME_ALIAS=False).test_client()
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("titer-1-100")).json["cards"]
    assert ELIGIBILITY in cards[0]["extension"]
    assert all(LEGACY not in card.get("extension", {}) for card in cards)


def test_the_switch_reads_the_environment():
    assert config.load(environ={})["LEGACY_OUTCOME_ALIAS"] is True
    assert config.load(environ={"CDS_LEGACY_OUTCOME_ALIAS": "false"})["LEGACY_OUTCOME_ALIAS"] is False
