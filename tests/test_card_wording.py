"""Readable numbers and units on every card (issue 13): "8.25 × 10^14 vg", "300 × 10^3/µL", never "8.25e+14" or
"x10^3/uL"; a limit carries its unit."""

from __future__ import annotations

import re

import pytest
from fhir_fake import hook_request, service_calls

CALLS = service_calls()
MACHINE_NUMBER = re.compile(r"\d[eE][+-]?\d")
# The one "x10^" left is a quotation: the J3399 descriptor as the billing guide's publisher gives it.
QUOTED = "up to 5x10^15 vector genomes"


@pytest.mark.parametrize(("name", "service", "body"), CALLS, ids=[f"{n}-{s}" for n, s, _ in CALLS])
def test_numbers_are_written_for_people(client, name, service, body):
    for card in client.post(f"/cds-services/{service}", json=body).json["cards"]:
        text = (card["summary"] + "\n" + card.get("detail", "")).replace(QUOTED, "")
        assert not MACHINE_NUMBER.search(text), card["summary"]
        assert "x10^" not in text, card["summary"]


def test_a_low_baseline_platelet_count_and_its_limit_carry_their_unit(client):
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("baseline-platelets-low")).json["cards"]
    card = next(c for c in cards if c["summary"].startswith("Baseline platelets"))
    assert card["summary"].startswith("Baseline platelets 112 × 10^3/µL below")
    assert "lower limit (150 × 10^3/µL)" in card["detail"]
