"""Card links (README "Cards"): every card citing the FDA label links it; every link has the CDS Hooks 2.0 Link
shape (label, url and type required; `absolute` URLs used as-is, `appContext` only for `smart`); a source known
only by name (policy DR.005.D, the billing guide) gets no link."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import make_app
from fhir_fake import hook_request, service_calls

LABEL_URL = "https://www.fda.gov/media/126109/download"  # the Zolgensma US prescribing information
CITES_LABEL = re.compile(r"\bFDA (label|boxed warning)")
LINK_FIELDS = {"label", "url", "type", "appContext", "autolaunchable"}  # CDS Hooks 2.0 Link
REFERENCES = json.loads((Path(__file__).resolve().parent.parent / "cards" / "references.json").read_text())
CALLS = service_calls()


def _cards(client, service, body) -> list[dict]:
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200
    return response.json["cards"]


def _is_packet(link: dict) -> bool:
    return "/packets/" in link["url"]  # this service's own pre-filled packet (README "Prior-authorization packet")


@pytest.mark.parametrize(("name", "service", "body"), CALLS, ids=[f"{n}-{s}" for n, s, _ in CALLS])
def test_cards_citing_the_label_link_it_and_every_link_is_well_formed(client, name, service, body):
    for card in _cards(client, service, body):
        assert card.get("links", None) != []  # CDS Hooks: no empty arrays
        links = card.get("links", [])
        urls = [link["url"] for link in links]
        assert len(urls) == len(set(urls)), card["summary"]  # one link per source
        cites = bool(CITES_LABEL.search(card["summary"] + "\n" + card.get("detail", "")))
        assert (LABEL_URL in urls) == cites, card["summary"]
        for link in links:
            assert set(link) <= LINK_FIELDS
            assert isinstance(link["label"], str) and link["label"].strip()
            assert link["type"] == "absolute" and "appContext" not in link
            parts = urlsplit(link["url"])
            assert parts.scheme in ("http", "https") and parts.netloc  # absolute: the client uses it as-is
            if not _is_packet(link):  # the packet lives on this service (http in tests); sources are https
                assert parts.scheme == "https"


def test_sources_known_only_by_name_stay_text():
    by_id = {s["id"]: s for s in REFERENCES["sources"]}
    assert by_id["fda-label"]["url"] == LABEL_URL
    assert "url" not in by_id["dr-005-d"] and "url" not in by_id["billing-guide"]
    assert all(urlsplit(s["url"]).scheme == "https" for s in REFERENCES["sources"] if "url" in s)


def test_the_summary_card_keeps_the_packet_link_first(client):
    cards = _cards(client, "zolgensma-order-sign", hook_request("missing-labs"))
    links = cards[0]["links"]
    assert _is_packet(links[0]) and links[1] == {
        "label": "FDA label: Zolgensma prescribing information (PDF)", "url": LABEL_URL, "type": "absolute"}


def test_links_come_from_the_cards_data(tmp_path):
    """The links are data (cards/references.json): a deployment may add a URL it has verified."""
    cards_dir = tmp_path / "cards"
    cards_dir.mkdir()
    for f in (Path(__file__).resolve().parent.parent / "cards").glob("*.json"):
        (cards_dir / f.name).write_text(f.read_text())
    data = json.loads(json.dumps(REFERENCES))
    next(s for s in data["sources"] if s["id"] == "dr-005-d").update(
        label="Policy DR.005.D", url="https://payer.example.org/dr-005-d.pdf")
    (cards_dir / "references.json").write_text(json.dumps(data))
    client = make_app(CARDS_DIR=str(cards_dir)).test_client()
    cards = _cards(client, "zolgensma-order-sign", hook_request("titer-1-100"))
    titer = next(c for c in cards if "DR.005.D criterion 6" in c["summary"])
    assert [link["url"] for link in titer["links"]] == [LABEL_URL, "https://payer.example.org/dr-005-d.pdf"]
