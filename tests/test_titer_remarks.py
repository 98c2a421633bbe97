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


# --- review 2026-11-24f F3: a result labelled as another person's ---------------------------------------------
_MATERNAL_CODE = {"coding": [{"system": "http://lab.example-reference.com/tests", "code": "1182",
                              "display": "Maternal AAV9 antibody titer"}],
                  "text": "Maternal AAV9 total antibody (mother's serum)"}


def test_the_mothers_titer_on_the_infants_record_is_not_evidence(client):
    answer = answer_both_routes(client, _with_titer(code=_MATERNAL_CODE))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "titer-other-person", "incomplete")
    assert answer["cards"][0]["summary"] == "Zolgensma not ready: AAV9 titer on record is the mother's"
    card = _card(answer, "AAV9 titer on record is labelled as the mother's: order the infant's titer")
    assert "Observation/aav9" in card["detail"] and "not this patient's measurement" in card["detail"]
    labels = [s["label"] for c in answer["cards"] for s in c.get("suggestions", ())]
    assert any("AAV9" in label for label in labels), labels  # the infant's titer is offered


def test_the_mothers_titer_beside_the_infants_own_leaves_the_infants_to_decide(client):
    resources = _with_titer()
    maternal = copy.deepcopy(next(r for r in resources if r.get("id") == "aav9"))
    maternal.update(id="aav9-mother", code=_MATERNAL_CODE, valueString="1:400", effectiveDateTime="2026-11-21")
    resources.append(maternal)
    answer = answer_both_routes(client, resources)
    got = _titer(answer)
    assert (got["status"], got["overall"]) == ("met", "eligible")
    assert "Observation/aav9 " in " ".join(map(str, got["evidence"])) + " "  # the infant's own titer decides
    details = " ".join(c.get("detail", "") for c in answer["cards"])
    assert "Observation/aav9-mother" in details and "labelled as the mother's" in details  # reported


def test_a_fathers_smn1_carrier_result_is_not_the_infants(client):
    resources = _with_titer()
    infant = next(r for r in resources if r.get("id") == "smn1-variant")
    father = copy.deepcopy(infant)
    father["id"] = "smn1-father"
    father["code"] = {"text": "Paternal SMN1 carrier screen (father's sample)"}
    for comp in father.get("component", ()):
        if "valueInteger" in comp or "valueQuantity" in comp:
            comp.pop("valueQuantity", None)
            comp["valueInteger"] = 1
    resources.append(father)
    answer = answer_both_routes(client, resources)
    outcome = answer["cards"][0]["extension"][EXT]
    smn1 = next(c for c in outcome["criteria"] if c["id"] == "smn1-biallelic")
    assert (smn1["status"], outcome["overall"]) == ("met", "eligible")  # was a conflict with the father's 1 copy
    details = " ".join(c.get("detail", "") for c in answer["cards"])
    assert "Observation/smn1-father" in details and "labelled as the father's" in details


def test_a_weight_the_mother_reported_is_the_infants(client):
    resources = _with_titer()
    weight = next(r for r in resources if r.get("id") == "weight")
    weight["code"]["text"] = "Body weight (mother reported)"
    outcome = answer_both_routes(client, resources)["cards"][0]["extension"][EXT]
    assert outcome["overall"] == "eligible"


# --- review 2026-11-24f F4: the lab's flag (Observation.interpretation) -----------------------------------------
def _flag(code: str, display: str) -> list[dict]:
    return [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                         "code": code, "display": display}]}]


def test_a_titer_below_the_lowest_dilution_flagged_positive_is_review_quoting_both(client):
    answer = answer_both_routes(client, _with_titer(interpretation=_flag("POS", "Positive")))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "titer-flag-contradicts", "needs-review")
    assert answer["cards"][0]["summary"] == \
        "Zolgensma needs Medical Director review: AAV9 titer <1:25 flagged Positive (POS) by the lab"  # plain text
    card = _card(answer, "Anti-AAV9 titer and the lab's flag disagree: confirm the result with the lab")
    assert "Titer \\<1:25 on 2026-11-20 is flagged Positive (POS) by the lab" in card["detail"]
    assert "Observation/aav9" in card["detail"]


def test_a_parenthesis_saying_positive_beside_less_than_is_review_too(client):
    got = _titer(answer_both_routes(client, _with_titer(valueString="<1:25 (positive)")))
    assert (got["status"], got["reasonCode"]) == ("review", "titer-flag-contradicts")


def test_a_titer_above_the_limit_flagged_negative_is_review_not_a_failure(client):
    got = _titer(answer_both_routes(client, _with_titer(valueString="1:200",
                                                        interpretation=_flag("NEG", "Negative"))))
    assert (got["status"], got["reasonCode"]) == ("review", "titer-flag-contradicts")


def test_a_high_flag_beside_a_titer_within_the_policy_limit_is_only_noted(client):
    answer = answer_both_routes(client, _with_titer(valueString="1:25", interpretation=_flag("HH", "Critical high")))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "titer-within-limit-flagged", "eligible")
    assert "The lab flags it Critical high (HH) against its own reference range; the policy's limit is 1:50" \
        in got["reason"]


def test_a_flag_that_agrees_changes_nothing(client):
    got = _titer(answer_both_routes(client, _with_titer(interpretation=_flag("NEG", "Negative"))))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "titer-within-limit", "eligible")


def test_smn1_copy_number_0_flagged_normal_is_review_quoting_both(client):
    resources = _with_titer()
    next(r for r in resources if r.get("id") == "smn1-variant")["interpretation"] = _flag("N", "Normal")
    answer = answer_both_routes(client, resources)
    outcome = answer["cards"][0]["extension"][EXT]
    smn1 = next(c for c in outcome["criteria"] if c["id"] == "smn1-biallelic")
    assert (smn1["status"], smn1["reasonCode"], outcome["overall"]) == \
        ("review", "genetics-flag-contradicts", "needs-review")
    card = _card(answer, "SMN1 result and the lab's flag disagree")
    assert "SMN1 copy number 0" in card["detail"] and "is flagged Normal (N) by the lab" in card["detail"]
    assert "Observation/smn1-variant" in card["detail"]


def test_smn1_copy_number_0_flagged_abnormal_changes_nothing(client):
    resources = _with_titer()
    next(r for r in resources if r.get("id") == "smn1-variant")["interpretation"] = _flag("A", "Abnormal")
    outcome = answer_both_routes(client, resources)["cards"][0]["extension"][EXT]
    assert outcome["overall"] == "eligible"


# --- review 2026-11-24f F6: Observation.issued is the report date, never the draw date -----------------------
def _issued_only(resource_id: str) -> list[dict]:
    resources = _with_titer()
    result = next(r for r in resources if r.get("id") == resource_id)
    result.pop("effectiveDateTime", None)
    result["issued"] = "2026-11-20T09:00:00Z"
    return resources


def test_a_titer_with_only_a_report_date_has_no_draw_date(client):
    answer = answer_both_routes(client, _issued_only("aav9"))
    got = _titer(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "titer-undated", "incomplete")
    card = _card(answer, "Anti-AAV9 titer has no usable date")
    assert "no draw date (reported 2026-11-20, not the draw date) (Observation/aav9)" in card["detail"]
    assert "drawn within 14 days before infusion" in card["detail"]


@pytest.mark.parametrize("resource_id, criterion", [("weight", "weight-in-label-range"),
                                                    ("alt", "baseline-liver-function")])
def test_a_weight_or_lab_with_only_a_report_date_is_not_used(client, resource_id, criterion):
    answer = answer_both_routes(client, _issued_only(resource_id))
    outcome = answer["cards"][0]["extension"][EXT]
    got = next(c for c in outcome["criteria"] if c["id"] == criterion)
    assert got["status"] == "unknown" and outcome["overall"] == "incomplete"
    details = " ".join(c.get("detail", "") for c in answer["cards"])
    assert "no draw date (no effective\\[x\\]; reported 2026-11-20, which is not the draw date)" in details
    assert f"Observation/{resource_id}" in details
