"""A lab result recorded without category=laboratory (an outside or point-of-care result) is seen by code on both
routes (review 2026-11-24b L1, P1): the full prefetch carries the analytes by code too (`labCodes`), the FHIR-server
route searches by code, and the monitoring service searches the monitored tests by code beside its lab history."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load

EXT = "org.example.zolgensma-cds.eligibility"
UCUM = "http://unitsofmeasure.org"


def _newer_uncategorised(name: str, of: str, new_id: str, when: str, **changes) -> list[dict]:
    resources = copy.deepcopy(load(name))
    newer = copy.deepcopy(next(r for r in resources if r.get("id") == of))
    newer.pop("category", None)
    newer.update(id=new_id, effectiveDateTime=when, **changes)
    return resources + [newer]


def _criterion(answer: dict, criterion: str) -> dict:
    return next(c for c in answer["cards"][0]["extension"][EXT]["criteria"] if c["id"] == criterion)


def test_a_newer_alt_without_category_is_read_on_both_routes(client):
    record = _newer_uncategorised("eligible-infant", "alt", "alt-poc", "2026-11-21",
                                  valueQuantity={"value": 200, "unit": "U/L", "system": UCUM, "code": "U/L"})
    answer = answer_both_routes(client, record)
    got = _criterion(answer, "baseline-liver-function")
    assert got["status"] == "review" and "Observation/alt-poc" in got["evidence"]
    assert answer["cards"][0]["extension"][EXT]["overall"] != "eligible"


def test_a_newer_smn1_result_without_category_is_read_on_both_routes(client):
    resources = copy.deepcopy(load("eligible-infant"))
    variant = next(r for r in resources if r.get("id") == "smn1-variant")
    copy_number = copy.deepcopy(variant["component"][1])
    copy_number["valueQuantity"] = {"value": 2, "unit": "1", "system": UCUM, "code": "1"}
    record = _newer_uncategorised("eligible-infant", "smn1-variant", "smn1-outside", "2026-06-01",
                                  component=[variant["component"][0], copy_number])
    got = _criterion(answer_both_routes(client, record), "smn1-biallelic")
    assert got["status"] != "met" and "Observation/smn1-outside" in got["evidence"]


def test_monitoring_sees_a_newer_alt_without_category_and_suggests_no_taper(client):
    record = _newer_uncategorised("monitoring-day-31-normal", "alt-d28", "alt-d30", "2026-11-22",
                                  valueQuantity={"value": 300, "unit": "U/L", "system": UCUM, "code": "U/L"})
    answer = answer_both_routes(client, record, "/cds-services/zolgensma-monitoring", "monitoring-day-31-normal",
                                "patient-view")
    text = " ".join(c["summary"] + c.get("detail", "") for c in answer["cards"])
    assert "taper over 28 days" not in text.lower() and "hepatology" in text
    assert not any("taper" in s["label"].lower() for c in answer["cards"] for s in c.get("suggestions", []))
