"""Review 2026-11-24g: the taper decision after the 30-day corticosteroid course (G3, G5) and the monitoring
summary beside a troponin-I rise (G11). Each case through prefetch and through the FHIR server, identical."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load, with_prednisolone

from cds_service.hooks import MONITORING, SERVICES

URL = "/cds-services/zolgensma-monitoring"
NAME = "monitoring-day-31-normal"  # infusion 2026-10-23, today day 31; course ended 2026-11-20 (day 28)
SOURCES = SERVICES[MONITORING].sources


def _answer(client, resources):
    return answer_both_routes(client, resources, url=URL, name=NAME, hook="patient-view", sources=SOURCES)


def _record(drop=(), eie=(), course=True):
    """The day-31 record with a prednisolone course order running (FDA label 2.1), minus `drop`, with `eie`
    marked entered-in-error."""
    resources = [r for r in copy.deepcopy(load(NAME)) if r.get("id") not in drop]
    for r in resources:
        if r.get("id") in eie:
            r["status"] = "entered-in-error"
    return with_prednisolone(resources, NAME, start="2026-10-22", end="2026-12-31") if course else resources


def _taper_cards(cards):
    return [c for c in cards if "taper" in c["summary"].lower() or "Taper" in c["summary"]]


def _taper_orders(cards):
    return [a["resource"] for c in cards for s in c.get("suggestions", []) for a in s["actions"]
            if a["resource"]["resourceType"] == "MedicationRequest"]


def test_control_course_running_and_day_28_tests_unremarkable_suggests_the_taper(client):
    cards = _answer(client, _record())["cards"]
    card = next(c for c in cards if c["summary"].startswith("Liver tests unremarkable after the steroid course"))
    assert "Observation/alt-d28" in card["detail"] and len(_taper_orders(cards)) == 1


@pytest.mark.parametrize("drop, eie, missing", [
    ((), ("alt-d28",), "ALT: latest 2026-11-13 (day 21), drawn during the course"),
    (("alt-d28",), (), "ALT: latest 2026-11-13 (day 21), drawn during the course"),
    (("alt-d28", "ast-d28"), (), "ALT: latest 2026-11-13 (day 21), drawn during the course; AST: latest "
                                 "2026-11-13 (day 21), drawn during the course"),
    (("alt-d28", "ast-d28", "tbili-d28", "pt-d28", "platelets-d28", "troponin-d28"), (),
     "total bilirubin: latest 2026-11-13 (day 21), drawn during the course; PT/INR: latest 2026-11-13"),
])
def test_g3_no_taper_on_liver_tests_drawn_during_the_course(client, drop, eie, missing):
    """G3: the day-21 ALT (during the course, full-dose steroid) is not the end-of-course check (FDA label 2.1;
    clinical-facts 5.2, day 28 +/- 2 days): no taper suggested, the liver tests ordered instead."""
    cards = _answer(client, _record(drop, eie))["cards"]
    assert not any(c["summary"].startswith("Liver tests unremarkable") for c in cards)
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("End-of-course liver tests needed before the taper"))
    assert card["summary"] == ("End-of-course liver tests needed before the taper decision: continue prednisolone "
                               "1 mg/kg/day meanwhile")
    assert card["indicator"] == "warning"
    assert "each drawn from 2026-11-18 (day 26) on and within the last 10 days" in card["detail"]
    assert missing in card["detail"]
    assert "FDA label 2.1" in card["detail"] and "clinical-facts 5.2" in card["detail"]
    codes = [a["resource"]["code"]["coding"][0]["code"] for s in card["suggestions"] for a in s["actions"]]
    assert "24325-3" in codes and "5902-2" in codes  # hepatic panel, PT/INR


def test_g3_a_late_day_27_draw_counts_as_end_of_course(client):
    """A draw within the schedule's 2 days before day 28 is the end-of-course check."""
    resources = _record()
    for r in resources:
        if r.get("id") in ("alt-d28", "ast-d28", "tbili-d28", "pt-d28"):
            r["effectiveDateTime"] = "2026-11-18"
    cards = _answer(client, resources)["cards"]
    assert any(c["summary"].startswith("Liver tests unremarkable after the steroid course") for c in cards)


def test_g3_no_steroid_order_and_day_28_alt_missing_never_suggests_a_taper(client):
    cards = _answer(client, _record(eie=("alt-d28",), course=False))["cards"]
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("No active prednisolone order since day 28"))
    assert "ALT: latest 2026-11-13 (day 21), drawn during the course" in card["detail"]
