"""Review 2026-11-24f, item F8 (and the duplicate problem of F9): text from the data in card summaries and details.
Unicode bidirectional controls never reach a card (they make text render in another order than it is read); a
"<" that would open an HTML tag is broken in plain-text summaries (some EHRs render them as HTML), a comparator
("<1:25") is not; a problem too long for the summary is cut, never replaced by a bare count; one problem that two
criteria share is named once. Through both routes."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_outcome, load

from cds_service.markdown import md, plain

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


@pytest.fixture
def client():
    return make_app().test_client()


def _titer_changed(**changes) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    titer = next(r for r in resources if r.get("id") == "aav9")
    titer.update(changes)
    return resources


def _texts(answer: dict) -> list[str]:
    return [text for card in answer["cards"] for text in (card["summary"], card.get("detail", ""))]


def test_bidirectional_controls_never_reach_a_card(client):
    answer = answer_both_routes(client, _titer_changed(method={"text": "ELISA \u202eTON\u202c"}))
    assert not any(ch in text for text in _texts(answer) for ch in BIDI)
    assert any("ELISA" in text and "TON" in text for text in _texts(answer))  # still shown, in reading order


def test_plain_text_breaks_a_tag_but_keeps_a_comparator():
    assert plain("1:100 (<img src=x onerror=alert(1)>)") == "1:100 (< img src=x onerror=alert(1)>)"
    assert plain("</b>") == "< /b>" and plain("<!-- x -->") == "< !-- x -->"
    assert plain("<1:25") == "<1:25" and plain("<= 50") == "<= 50"
    assert md("<img src=x>") == "\\<img src=x\\>"  # markdown escapes "<" itself, unchanged
    assert plain("a\u202eb\u2067c") == "a b c"


def test_a_problem_too_long_for_the_summary_is_cut_not_dropped(client):
    value = "1:100 (<img src=x onerror=alert(1)> **see** [link](javascript:alert(1)) " + "A" * 150 + ")"
    answer = answer_both_routes(client, _titer_changed(valueString=value))
    summary = answer["cards"][0]["summary"]
    assert len(summary) < 140 and "criteria" not in summary
    assert "titer" in summary.lower() and "…" in summary
    assert "<img" not in summary


def test_one_problem_of_two_criteria_is_named_once(client):
    resources = copy.deepcopy(load("eligible-infant"))
    next(r for r in resources if r["resourceType"] == "Patient").pop("birthDate")  # age and gestational age need it
    summary = answer_both_routes(client, resources)["cards"][0]["summary"]
    assert summary.count("birth date missing") == 1, summary


@pytest.mark.parametrize(("method", "status"), [("ELISA (CLIA-certified reference lab)", "met"),
                                                ("ELISA; CLIA lab", "met"),
                                                ("chemiluminescence immunoassay (CLIA)", "unknown"),
                                                ("CLIA", "unknown")])
def test_a_clia_certified_lab_is_not_a_chemiluminescence_assay(client, method, status):
    """"CLIA" is both the chemiluminescence assay (not ELISA) and the US lab certification: the certification
    phrases name the lab and are read past; "CLIA" alone stays not ELISA (the safe reading)."""
    answer = answer_both_routes(client, _titer_changed(method={"text": method}))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == status
    if status == "unknown":
        assert got["reasonCode"] == "titer-method-not-elisa"
