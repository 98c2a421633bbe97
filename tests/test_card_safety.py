"""Text from the patient's record never renders as markdown or HTML in a card.

Hostile strings are put into every free-text field a resource carries (text, display, name, description,
valueString, units, notes) and into the resource ids that cards cite, for every scenario and every service.
Each card's `detail` is parsed with a CommonMark parser (markdown-it-py, GFM tables on) with raw HTML allowed,
as the CDS Hooks sandbox renders it: no HTML, link, image or emphasis may come out of data, and wherever the
hostile text reached a card it reads back literally.
"""

from __future__ import annotations

import copy

import fhir_fake
import pytest
from markdown_it import MarkdownIt

from cds_service.markdown import md, one_line, plain, unescape

MARK = "ZZHOSTILE"
# What the issue saw (an <img> fetched by the browser), plus every markdown construct that could start inline,
# GFM autolinks, an entity, a table pipe, a code span, a line break that would open a new block.
HOSTILE = (f'{MARK}<img src="http://evil.example/x.png"><b>ELISA</b> **bold** _it_ ~~del~~ '
           "[link](http://evil.example) ![i](x.png) www.evil.example http://evil.example a@evil.example "
           "| cell | `code` &amp; &lt;b&gt; \\* 10*3/uL\n# heading\n- item\n1. item <script>alert(1)</script>")
# Three poisonings, so that each field is poisoned while the others still parse (a poisoned unit makes the
# value unusable, which takes another path: the data-issues card).
VARIANTS = {"text": {"text", "display", "name", "description", "valueString"}, "units": {"unit"}, "ids": set()}
# Ids the cards cite. (An administration whose id is invalid is skipped, and then the monitoring service has
# no infusion to follow and answers no cards: that path is not about escaping.)
ID_TYPES = {"Observation", "Condition", "Coverage", "Location", "PractitionerRole", "CareTeam", "Encounter"}
PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _poison(value, keys, key=None):
    """Every free-text string gets the hostile text appended (so codes and values still parse)."""
    if isinstance(value, dict):
        return {k: _poison(v, keys, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, keys, key) for v in value]
    if isinstance(value, str) and key in keys:
        return value + " " + HOSTILE
    return value


def _poisoned(resources: list[dict], variant: str) -> list[dict]:
    out = [_poison(r, VARIANTS[variant]) for r in copy.deepcopy(resources)]
    if variant != "ids":
        return out
    renamed = {f"{r['resourceType']}/{r['id']}": f"{r['id']}{MARK}<i>x</i>" for r in out
               if r["resourceType"] in ID_TYPES and "id" in r}

    def rewrite(value):
        if isinstance(value, dict):
            return {k: (f"{v.split('/')[0]}/{renamed[v]}" if k == "reference" and v in renamed else rewrite(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    out = [rewrite(r) for r in out]
    for r in out:
        key = f"{r['resourceType']}/{r.get('id')}"
        if key in renamed:
            r["id"] = renamed[key]
    return out


def _inline_texts(tokens) -> list[str]:
    """The literal text of each inline run (paragraph, list item, table cell) as a reader sees it."""
    return ["".join(child.content for child in t.children or []) for t in tokens if t.type == "inline"]


def _check_card(card: dict) -> int:
    """Asserts the card is safe; returns how many times hostile text reached it."""
    for text in (card["summary"], card["source"]["label"]):  # plain-text fields: one line
        assert "\n" not in text and "\r" not in text
    for s in card.get("suggestions", []):
        assert "\n" not in s["label"]
    detail = card.get("detail", "")
    tokens = PARSER.parse(detail)
    flat = tokens + [c for t in tokens for c in (t.children or [])]
    kinds = {t.type for t in flat}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "s_open"}, kinds
    assert not any(MARK in t.content for t in flat if t.type == "code_inline")  # code spans: our wording only
    for t in flat:  # emphasis in a card is our own wording's bold labels, never from data
        if t.type == "strong_open" or t.type == "em_open":
            assert t.markup in ("**", "*")
    hits = 0
    for text in _inline_texts(tokens):
        if MARK in text:
            hits += text.count(MARK)
            start = text.index(MARK)
            tail = text[start:]
            # up to the first backslash: a data-issue text may quote the value with Python escapes
            literal = HOSTILE.split("\\")[0]
            assert tail.startswith(literal) or tail.startswith(MARK + "<i>x</i>"), tail[:200]
    assert "www.evil" not in detail and "http://evil" not in detail and "a@evil" not in detail  # no autolink
    return hits + card["summary"].count(MARK)


def _all_cards(client, monkeypatch, names, hooks, variant):
    cards = []
    original = fhir_fake.load
    monkeypatch.setattr(fhir_fake, "load", lambda name: _poisoned(original(name), variant))
    for name in names:
        for hook, service in hooks:
            response = client.post(f"/cds-services/{service}", json=fhir_fake.hook_request(name, hook))
            assert response.status_code == 200, response.get_data(as_text=True)
            cards += response.json["cards"]
    return cards


ELIGIBILITY_HOOKS = [("order-sign", "zolgensma-order-sign"), ("order-select", "zolgensma-order-select")]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hostile_text_in_eligibility_data_is_rendered_literally(variant, client, monkeypatch):
    """Every scenario, both hooks: safe everywhere, and shown (escaped) on many cards, not silently dropped."""
    cards = _all_cards(client, monkeypatch, fhir_fake.scenario_names(), ELIGIBILITY_HOOKS, variant)
    hits = sum(_check_card(c) for c in cards)
    if variant != "units":  # units are shown in their canonical form, never as sent: nothing to reach a card
        assert hits >= 10
        assert any(MARK in c.get("detail", "") and "\\<" in c["detail"] for c in cards)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hostile_text_in_monitoring_data_is_rendered_literally(variant, client, monkeypatch):
    hooks = [("patient-view", "zolgensma-monitoring")]
    cards = _all_cards(client, monkeypatch, fhir_fake.monitoring_names(), hooks, variant)
    assert cards
    hits = sum(_check_card(c) for c in cards)
    if variant == "ids":  # monitoring cards cite results by reference; their text comes from cards/monitoring.json
        assert hits >= 1


def test_escaping_reads_back_exactly():
    assert unescape(md(HOSTILE)) == one_line(HOSTILE)  # markdown shows the text exactly, on one line
    shown = plain(HOSTILE)  # a plain-text summary: no tag can open (some EHRs render summaries as HTML)
    assert "< img" in shown and "< b>ELISA< /b>" in shown and "< script>alert(1)< /script>" in shown
    assert shown.replace("< ", "<") == one_line(HOSTILE)
    assert md("300 10*3/uL") == "300 10\\*3/uL"
    assert "\n" not in md("a\nb\r\nc\u2028d")


def test_plain_text_is_one_line_for_every_break_and_control_character():
    breaks = [chr(c) for c in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]]
    for char in breaks:
        assert plain(f"a{char}b") == "a b", repr(char)
    assert plain("a\r\n\tb") == "a b"
    assert plain("Zolgensma 1:25 \u00b5g/L\u00a0ELISA") == "Zolgensma 1:25 \u00b5g/L\u00a0ELISA"  # printable: as is


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hostile_text_in_readiness_data_is_rendered_literally(variant, client, monkeypatch):
    hooks = [("patient-view", "zolgensma-readiness")]
    names = [n for n in fhir_fake.readiness_names() if n != "readiness-not-concerned"]
    cards = _all_cards(client, monkeypatch, names, hooks, variant)
    assert cards
    hits = sum(_check_card(c) for c in cards)
    if variant == "ids":  # the plan cites its evidence by reference
        assert hits >= 1
