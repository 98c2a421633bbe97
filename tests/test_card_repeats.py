"""No card repeats another (README "Card design"): in every fixture scenario's response, through every service
that answers it, no paragraph of 40 characters or more appears twice among the cards' summaries and details."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from fhir_fake import hook_request, service_calls

from cds_service.services import MONITORING, SERVICES

MIN_LENGTH = 40
# The one line every criterion card must carry (the date basis its windows were computed against: the
# clinical safety rules say each card states which); it is a stamp, not a repeated explanation.
STAMP = re.compile(r"^\*\*Evaluated as of:\*\* ")

CALLS = service_calls()


def paragraphs(card: dict) -> list[str]:
    """The card's summary and every line of its detail (markdown lines, table rows, list items)."""
    lines = [card["summary"], *(card.get("detail") or "").split("\n")]
    return [line.strip() for line in lines if len(line.strip()) >= MIN_LENGTH and not STAMP.match(line.strip())]


@pytest.mark.parametrize(("name", "service", "body"), CALLS, ids=[f"{n}-{s}" for n, s, _ in CALLS])
def test_no_paragraph_appears_twice_in_one_response(client, name, service, body):
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200
    counts = Counter(p for card in response.json["cards"] for p in paragraphs(card))
    assert not [p for p, n in counts.items() if n > 1]


def test_the_site_of_care_is_said_once(client):
    """The site-office scenario's billing card repeated the site-of-care card's summary; it now points there."""
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("site-office")).json["cards"]
    site = next(c for c in cards if c["summary"].startswith("Site of care POS 11"))
    billing = next(c for c in cards if c["summary"].startswith("Bill J3399"))
    assert site["summary"] not in billing["detail"]
    assert "POS 11 (Office) is not accepted: see the site-of-care warning card." in billing["detail"]
    assert paragraphs(dict(billing, detail=billing["detail"] + "\n" + site["summary"])).count(site["summary"]) == 1


def test_an_unusable_planned_date_is_said_on_its_own_card_only(client):
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("planned-date-last-year")).json["cards"]
    about = [c for c in cards if "2025-12-01" in c["summary"] + c.get("detail", "")]
    assert [c["extension"]["org.example.zolgensma-cds.note"]["code"] for c in about] == ["planned-date-in-past"]
    monitoring = next(c for c in cards if c["summary"].startswith("Zolgensma monitoring"))
    assert "see the planned-date card" in monitoring["detail"] and "not on the order" not in monitoring["detail"]


def test_overdue_draws_name_each_test_once(client):
    body = hook_request("monitoring-day-45-overdue", "patient-view", sources=SERVICES[MONITORING].sources)
    first = client.post(f"/cds-services/{MONITORING}", json=body).json["cards"][0]
    overdue = first["detail"].split("\n")[0]
    assert overdue.count("Liver function (AST") == 1 and overdue.count("Troponin-I:") == 1
    assert "Platelet count: day 21 (2026-10-30) and day 28 (2026-11-06)" in overdue


def test_a_card_does_not_say_the_same_thing_twice(client):
    """The titer card's reason and its label note both said the label allows the test to be repeated."""
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("titer-1-100")).json["cards"]
    titer = next(c for c in cards if "criterion 6 not met" in c["summary"])
    assert titer["detail"].count("allows the test to be repeated") == 1
