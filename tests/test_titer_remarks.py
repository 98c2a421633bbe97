"""What a lab writes beside an AAV9 titer (review 2026-11-24f F2): a parenthesis after the dilution, a note, a
second value[x]. A known qualifier changes nothing; an unfit specimen is no measurement (`unknown`, re-draw); any
other comment, or a note pointing at a repeat, an addendum or another dilution, is `review`, quoted; two values
are an invalid record (skipped, reported, `unknown`). Each case through prefetch and the FHIR server, identical."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, load

EXT = "org.example.zolgensma-cds.eligibility"


@pytest.fixture
def client():
    return make_app().test_client()


def _with_titer(**changes) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    titer = next(r for r in resources if r.get("id") == "aav9")
    for key, value in changes.items():
        if value is None:
            titer.pop(key, None)
        else:
            titer[key] = value
    return resources


def _titer(answer: dict) -> dict:
    outcome = answer["cards"][0]["extension"][EXT]
    return next(c for c in outcome["criteria"] if c["id"] == "aav9-titer") | {"overall": outcome["overall"]}


def _card(answer: dict, start: str) -> dict:
    return next(c for c in answer["cards"] if c["summary"].startswith(start))


def test_a_parenthesis_naming_another_dilution_is_review_quoting_it(client):
    answer = answer_both_routes(client, _with_titer(valueString="1:25 (repeat at higher dilution 1:400)"))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "titer-remark", "needs-review")
    assert answer["cards"][0]["summary"] == "Zolgensma needs Medical Director review: AAV9 titer 1:25 (repeat at " \
        "higher dilution 1:400) (2026-11-20) carries a lab comment"
    card = _card(answer, "Anti-AAV9 titer carries a lab comment")
    assert "the lab wrote: 'repeat at higher dilution 1:400'" in card["detail"]
    assert "Observation/aav9" in card["detail"] and "DR.005.D criterion 6" in card["detail"]


def test_a_parenthesis_saying_the_specimen_was_unfit_is_unknown_with_a_redraw(client):
    answer = answer_both_routes(client, _with_titer(valueString="<1:25 (specimen hemolyzed - recollect)"))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "titer-specimen-unfit", "incomplete")
    card = _card(answer, "Anti-AAV9 titer specimen reported unfit by the lab: re-draw")
    assert "'specimen hemolyzed - recollect'" in card["detail"] and "Observation/aav9" in card["detail"]
    assert "Re-draw the anti-AAV9 total antibody titer by ELISA within 14 days" in card["detail"]
    # the order that settles it is offered
    labels = [s["label"] for c in answer["cards"] for s in c.get("suggestions", ())]
    assert any("AAV9" in label for label in labels), labels


@pytest.mark.parametrize("value", ["<1:25 (negative)", "<1:25 (Not detected)", "1:25 (result confirmed)",
                                   "<1:25 (ELISA)"])
def test_a_known_qualifier_changes_nothing(client, value):
    got = _titer(answer_both_routes(client, _with_titer(valueString=value)))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "titer-within-limit", "eligible")


def test_a_confirmed_titer_above_the_limit_stays_not_met(client):
    answer = answer_both_routes(client, _with_titer(valueString="1:400 (reflex dilution performed; result confirmed)"))
    assert (_titer(answer)["status"], _titer(answer)["reasonCode"]) == ("not-met", "titer-above-limit")


def test_a_note_pointing_at_a_repeat_is_review_quoting_the_note(client):
    answer = answer_both_routes(client, _with_titer(valueString="1:50",
                                                    note=[{"text": "Titer >1:50 on repeat; see addendum"}]))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"]) == ("review", "titer-remark")
    card = _card(answer, "Anti-AAV9 titer carries a lab comment")
    assert "Titer \\>1:50 on repeat; see addendum" in card["detail"]  # escaped markdown


def test_a_note_asking_for_a_recollection_is_unknown(client):
    answer = answer_both_routes(client, _with_titer(note=[{"text": "Specimen clotted. Please recollect."}]))
    assert (_titer(answer)["status"], _titer(answer)["reasonCode"]) == ("unknown", "titer-specimen-unfit")


def test_an_unrelated_note_changes_nothing(client):
    got = _titer(answer_both_routes(client, _with_titer(note=[{"text": "Performed at the reference laboratory"}])))
    assert (got["status"], got["overall"]) == ("met", "eligible")


def test_two_values_are_an_invalid_titer_skipped_and_reported(client):
    answer = answer_both_routes(client, _with_titer(valueString="<1:25",
                                                    valueQuantity={"value": 200, "unit": "{titer}"}))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "titer-unreadable", "incomplete")
    card = _card(answer, "Anti-AAV9 result on record but not a titer")
    assert "given 2 times (valueQuantity, valueString): FHIR R4 allows one" in card["detail"]
    assert "Observation/aav9" in card["detail"]
