"""The prior-authorization packet: FHIR R4 validity, answers from the same findings as the cards, evidence,
unanswered items with reasons, the HTML rendering, and its HTTP routes (endpoint, card link, CRD)."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest
from conftest import make_app
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir_fake import FakeFhir, hook_request, load, scenario_names
from test_trust import ISS, JWKS, token

from cds_service import extensions
from cds_service.packet.questionnaire import UNANSWERED_REASON
from cds_service.rules.eligibility import CRITERIA

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
ELIGIBLE = [n for n in scenario_names() if n != "no-zolgensma"]


@pytest.fixture
def client():
    return make_app(NOW=lambda: NOW).test_client()


def _packet(client, body) -> dict:
    response = client.post("/packets", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/fhir+json"
    return response.json


def _items(items: list[dict]) -> dict[str, dict]:
    out = {}
    for item in items:
        out[item["linkId"]] = item
        out.update(_items(item.get("item", [])))
    return out


def _answers(bundle: dict) -> dict[str, dict]:
    return _items(bundle["entry"][0]["resource"]["item"])


def _summary(cards: list[dict]) -> dict:
    """The summary card (cards are sorted worst first: not necessarily the first)."""
    return next(c for c in cards if extensions.ELIGIBILITY in c.get("extension", {}))


def _packet_links(cards: list[dict]) -> list[dict]:
    """The links to a stored packet (cards also link the sources they cite, e.g. the FDA label)."""
    return [link for c in cards for link in c.get("links", []) if "/packets/" in link["url"]]


def _packet_link(cards: list[dict]) -> dict:
    """The summary card's one packet link."""
    [link] = _packet_links([_summary(cards)])
    return link


def _outcome(client, body) -> dict:
    cards = client.post("/cds-services/zolgensma-order-sign", json=body).json["cards"]
    return _summary(cards)["extension"][extensions.ELIGIBILITY]


def test_questionnaire_is_valid_r4_and_has_every_criterion(client):
    q = client.get("/packets/Questionnaire").json
    Questionnaire.model_validate(q)
    groups = [i["linkId"] for i in _items(q["item"])["criteria"]["item"]]
    assert groups == list(CRITERIA)
    ids = list(_items(q["item"]))
    assert len(ids) == len(set(ids))
    docs = _items(q["item"])
    for link_id in ("documentation.genetic-report", "documentation.titer.result", "documentation.age-weight.weight",
                    "documentation.steroid.order", "documentation.monitoring.hepatic-panel"):
        assert link_id in docs


@pytest.mark.parametrize("name", ELIGIBLE)
def test_every_scenario_is_valid_r4_and_answers_from_the_cards_findings(name, client):
    body = hook_request(name)
    bundle = _packet(client, body)
    Bundle.model_validate(bundle)
    outcome = _outcome(client, body)
    answers = _answers(bundle)
    assert answers["context.overall"]["answer"][0]["valueCoding"]["code"] == outcome["overall"]
    for criterion in outcome["criteria"]:
        cid = criterion["id"]
        assert answers[f"{cid}.status"]["answer"][0]["valueCoding"]["code"] == criterion["status"]
        assert answers[f"{cid}.reason"]["answer"][0]["valueString"] == criterion["reason"]
        cited = [a["valueReference"]["reference"] for a in answers[f"{cid}.evidence"].get("answer", [])]
        assert cited == criterion.get("evidence", [])
        answer = answers[f"{cid}.answer"]
        if criterion["status"] in ("met", "not-met"):
            assert answer["answer"] == [{"valueBoolean": criterion["status"] == "met"}]
        else:  # unknown or review: never guessed, the reason says why
            assert "answer" not in answer
            reasons = [e["valueString"] for e in answer["extension"] if e["url"] == UNANSWERED_REASON]
            assert reasons and criterion["reason"] in reasons[0]
    # every cited resource travels in the Bundle
    included = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for item in answers.values():
        for a in item.get("answer", []):
            if "valueReference" in a:
                assert a["valueReference"]["reference"] in included


def test_complete_case_answers_every_item_with_values_units_and_dates(client):
    bundle = _packet(client, hook_request("eligible-infant"))
    answers = _answers(bundle)
    unanswered = [k for k, v in answers.items() if "item" not in v and "answer" not in v]
    # Exclusions rest on a search that found nothing: no resource to cite, the reason says what was searched.
    assert unanswered == ["no-advanced-sma.evidence", "no-active-infection.evidence", "one-time-dose.evidence"]
    assert answers["documentation.age-weight.weight"]["answer"][0]["valueQuantity"] == {
        "value": 7.2, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
    assert answers["documentation.age-weight.weight-date"]["answer"] == [{"valueDate": "2026-11-20"}]
    assert answers["documentation.titer.result"]["answer"] == [{"valueString": "<1:25"}]
    assert answers["documentation.titer.date"]["answer"] == [{"valueDate": "2026-11-20"}]
    assert answers["documentation.titer.days-before"]["answer"] == [{"valueInteger": 11}]
    assert answers["documentation.titer.evidence"]["answer"][0]["valueReference"] == {
        "reference": "Observation/aav9",
        "display": "titer <1:25, method ELISA (from Observation.method), on 2026-11-20"}
    assert answers["documentation.steroid.start"]["answer"] == [{"valueDate": "2026-11-30"}]
    assert answers["documentation.monitoring.troponin-i"]["answer"][0] == {"valueDate": "2026-12-08"}
    assert answers["context.planned-date"]["answer"] == [{"valueDate": "2026-12-01"}]
    response = bundle["entry"][0]["resource"]
    assert response["status"] == "in-progress" and response["author"]["type"] == "Device"
    assert response["questionnaire"].endswith("zolgensma-dr-005-d|1.0.0")
    assert bundle["timestamp"] == "2026-11-23T14:30:00+00:00"


def test_incomplete_case_leaves_missing_items_unanswered_with_the_reason(client):
    bundle = _packet(client, hook_request("missing-labs"))
    answers = _answers(bundle)
    for cid in ("baseline-liver-function", "baseline-platelets-troponin"):
        item = answers[f"{cid}.answer"]
        assert "answer" not in item
        assert {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"} \
            in item["extension"]
        assert "Missing:" in next(e["valueString"] for e in item["extension"] if e["url"] == UNANSWERED_REASON)
    assert answers["aav9-titer.answer"]["answer"] == [{"valueBoolean": True}]


def test_fhir_server_route_gives_the_same_packet(client, rsps):
    FakeFhir(load("missing-labs")).register(rsps)  # the absent labs are searched for by code on both routes
    via_prefetch = _packet(client, hook_request("missing-labs"))
    via_server = _packet(client, hook_request("missing-labs", mode="server"))
    assert len(rsps.calls) > 0

    def strip(bundle):
        b = copy.deepcopy(bundle)
        b.pop("id"), b.pop("identifier")
        b["entry"][0].pop("fullUrl"), b["entry"][0]["resource"].pop("id")
        return b
    assert strip(via_prefetch) == strip(via_server)


def test_a_cited_resource_that_is_not_valid_r4_is_left_out_and_said(client):
    body = hook_request("eligible-infant")
    weight = next(e["resource"] for e in body["prefetch"]["vitals"]["entry"] if e["resource"]["id"] == "weight")
    weight["vendorJunk"] = {"x": 1}  # tolerated by the rules' reading, not valid R4
    bundle = _packet(client, body)
    Bundle.model_validate(bundle)
    assert "Observation/weight" not in {f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                        for e in bundle["entry"]}
    issues = [a["valueString"] for a in _answers(bundle)["data-issues.item"]["answer"]]
    assert any(i.startswith("Observation/weight: not included, not valid FHIR R4") for i in issues)


def test_html_is_escaped_and_readable(client):
    body = hook_request("missing-labs")
    role = body["prefetch"]["practitionerRoles"]["entry"][0]["resource"]
    role["specialty"][0]["coding"][0]["display"] = "<script>alert('x')</script> Child Neurology"
    body["prefetch"]["conditions"]["entry"].append(
        {"resource": {"resourceType": "Condition", "id": "x<img>", "subject": {"reference": "Patient/missing-labs"},
                      "clinicalStatus": 5}})
    response = client.post("/packets?format=html", json=body)
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "<img>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Child Neurology" in page  # cited, escaped
    assert "&lt;img&gt;" in page  # the skipped resource is reported, escaped
    assert "Not answered (documentation needed)" in page
    assert "Baseline liver function" in page and "Missing: AST, ALT, total bilirubin and PT/INR" in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.post("/packets", json=body, headers={"Accept": "text/html"}).content_type.startswith("text/html")


@pytest.mark.parametrize("body, status", [
    ({"hook": "order-sign"}, 400),
    ([1, 2], 400),
    ({**hook_request("no-zolgensma")}, 400),
    ({k: v for k, v in hook_request("eligible-infant").items()
      if k not in ("prefetch", "fhirServer", "fhirAuthorization")}, 412),
])
def test_bad_requests_are_operation_outcomes(client, body, status):
    response = client.post("/packets", json=body)
    assert response.status_code == status
    assert response.json["resourceType"] == "OperationOutcome"


def test_bad_format_is_400(client):
    assert client.post("/packets?format=pdf", json=hook_request("eligible-infant")).status_code == 400


def test_endpoint_needs_the_services_jwt():
    secured = make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}},
                       PUBLIC_BASE_URL="http://localhost").test_client()
    body = hook_request("eligible-infant")
    assert secured.post("/packets", json=body).status_code == 401
    ok = secured.post("/packets", json=body,
                      headers={"Authorization": f"Bearer {token(aud='http://localhost/packets')}"})
    assert ok.status_code == 200


# --- the card link and the CRD coverage information, where documentation is needed -----------------------
def _sign(client, name, **extra):
    body = {**hook_request(name), **extra}
    response = client.post("/cds-services/zolgensma-order-sign", json=body)
    assert response.status_code == 200
    return response.json


def _coverage_information(response) -> dict[str, list]:
    ext = response["systemActions"][0]["resource"]["extension"][-1]["extension"]
    out: dict[str, list] = {}
    for part in ext:
        out.setdefault(part["url"], []).append(next(v for k, v in part.items() if k.startswith("value")))
    return out


def test_documentation_needed_gives_a_card_link_and_the_questionnaire(client, caplog):
    response = _sign(client, "missing-labs")
    link = _packet_link(response["cards"])
    assert link["type"] == "absolute" and link["url"].startswith("http://localhost/packets/")
    info = _coverage_information(response)
    assert info["doc-needed"] == ["clinical"]
    assert info["questionnaire"] == ["https://zolgensma-cds.example.org/fhir/Questionnaire/zolgensma-dr-005-d|1.0.0"]

    with caplog.at_level(logging.INFO, logger="cds_service.calls"):
        page = client.get(link["url"].removeprefix("http://localhost"))
    key = link["url"].rsplit("/", 1)[1]
    assert "/packets/<key>" in caplog.text and key not in caplog.text  # the link's key is a credential
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    stored = client.get(link["url"].removeprefix("http://localhost") + "?format=json").json
    Bundle.model_validate(stored)
    assert _answers(stored)["context.overall"]["answer"][0]["valueCoding"]["code"] == "incomplete"


@pytest.mark.parametrize("name", ["eligible-infant", "titer-1-100", "aca-plan"])
def test_no_packet_link_and_no_questionnaire_where_no_documentation_is_needed(client, name):
    response = _sign(client, name)
    assert not _packet_links(response["cards"])
    assert "questionnaire" not in _coverage_information(response)


def test_order_select_and_turned_off_coverage_info_give_no_packet_link(client):
    select = client.post("/cds-services/zolgensma-order-select", json=hook_request("missing-labs", "order-select"))
    assert not _packet_links(select.json["cards"])
    off = _sign(client, "missing-labs", extension={"davinci-crd.configuration": {"coverage-info": False}})
    assert not _packet_links(off["cards"]) and "systemActions" not in off


def test_stored_packet_link_needs_no_jwt_but_expires():
    secured = make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}},
                       PUBLIC_BASE_URL="http://localhost").test_client()
    response = secured.post("/cds-services/zolgensma-order-sign", json=hook_request("missing-labs"),
                            headers={"Authorization": f"Bearer {token()}"})
    url = _packet_link(response.json["cards"])["url"].removeprefix("http://localhost")
    assert secured.get(url).status_code == 200  # a browser has no client JWT: the unguessable link is the key
    assert secured.get("/packets/not-a-packet").status_code == 404

    expired = make_app(PACKET_TTL_MINUTES=-1).test_client()
    url = _packet_link(_sign(expired, "missing-labs")["cards"])["url"].removeprefix("http://localhost")
    gone = expired.get(url)
    assert gone.status_code == 404 and gone.json["resourceType"] == "OperationOutcome"


def test_a_failing_packet_never_breaks_the_cards(client, monkeypatch):
    from cds_service.packet import PacketMaker

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(PacketMaker, "draft", broken)  # what a card link stores, made with the cards
    response = _sign(client, "missing-labs")
    assert _summary(response["cards"])["extension"][extensions.ELIGIBILITY]["overall"] == "incomplete"
    assert not _packet_links(response["cards"])


@pytest.mark.parametrize("name", ["missing-labs", "titer-method-unstated", "missing-genetics"])
def test_the_linked_packet_is_the_packet_of_the_same_request(client, name):
    """The link stores the packet's answers when the card is made and assembles the Bundle when opened: the
    result is the packet POST /packets makes from the same request (ids and timestamp aside)."""
    response = _sign(client, name)
    link = _packet_link(response["cards"])["url"].removeprefix("http://localhost")
    linked = client.get(link + "?format=json").json
    made = _packet(client, hook_request(name))

    def comparable(bundle: dict) -> list:
        entries = copy.deepcopy(bundle["entry"])
        for entry in entries[:1]:  # the QuestionnaireResponse: its own id differs
            entry["resource"].pop("id")
            entry.pop("fullUrl")
        return entries
    assert linked["timestamp"] == made["timestamp"] == NOW.isoformat(timespec="seconds")
    assert comparable(linked) == comparable(made)
    assert len(linked["entry"]) > 2  # the cited evidence is in it


def test_order_select_body_works_and_needs_the_order_selected(client):
    body = hook_request("missing-labs", "order-select")
    assert _answers(_packet(client, body))["context.overall"]["answer"][0]["valueCoding"]["code"] == "incomplete"
    body["context"]["selections"] = ["MedicationRequest/something-else"]
    response = client.post("/packets", json=body)
    assert response.status_code == 400 and "among the selections" in response.json["issue"][0]["diagnostics"]
