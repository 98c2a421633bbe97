"""The QuestionnaireResponse: DR.005.D answered from the same facts and findings the cards use.

Nothing here decides a criterion: the rules did (rules/eligibility.py). A criterion's question is answered
`true` only when its finding is `met`, `false` only when `not-met`; `unknown` and `review` leave it
unanswered, with the reason. Each group cites the finding's evidence (reference, plus value, unit and date as
the cards show them). Documentation items take their values from the facts the findings cite, never from
anything else; what is not on record stays unanswered with the reason, never guessed.
"""

from __future__ import annotations

from ..facts import Measurement, PatientFacts
from ..rules.findings import MET, NOT_MET, Evaluation, Finding
from ..terminology import UCUM
from .questionnaire import (
    DATA_ABSENT_REASON,
    MONITORING_TESTS,
    OUTCOME_SYSTEM,
    STATUS_SYSTEM,
    UNANSWERED_REASON,
    canonical,
)


class ResponseBuilder:
    def __init__(self, packet_text: dict, criteria_text: dict, reason_text, questionnaire: dict):
        """`reason_text(finding)`: the cards' wording of a finding's reason, as plain text."""
        self.text, self.criteria_text, self.reason_text = packet_text, criteria_text, reason_text
        self.titles = _texts(questionnaire["item"])

    def build(self, response_id: str, facts: PatientFacts, evaluation: Evaluation, authored: str,
              schedule: dict[str, list[str]]) -> dict:
        groups = [self._context(facts, evaluation),
                  self._group("criteria", [self._criterion(f) for f in evaluation.findings]),
                  self._documentation(facts, evaluation, schedule)]
        if facts.issues:
            groups.append(self._group("data-issues", [self._item(
                "data-issues.item", [{"valueString": f"{i.source}: {i.problem}"} for i in facts.issues])]))
        author = self.text["author"]
        return {
            "resourceType": "QuestionnaireResponse",
            "id": response_id,
            "questionnaire": canonical(self.text),
            # Pre-populated for the prescriber and the reviewer to check and complete: not a final answer.
            "status": "in-progress",
            "subject": {"reference": facts.patient_reference},
            "authored": authored,
            # CRD: a pre-populated response's author is a Device with an identifier and display.
            "author": {"type": "Device", "identifier": {"system": author["system"], "value": author["value"]},
                       "display": author["display"]},
            "item": groups,
        }

    # Request context -------------------------------------------------------------------------------
    def _context(self, facts: PatientFacts, evaluation: Evaluation) -> dict:
        order = facts.order
        planned = order.planned_date if order else None
        return self._group("context", [
            self._item("context.order", [_reference(order.reference, order.evidence.text)] if order else [],
                       self._unanswered("no-evidence")),
            self._item("context.planned-date", [{"valueDate": planned.isoformat()}] if planned else [],
                       self._unanswered("no-planned-date")),
            self._item("context.as-of", [{"valueDate": evaluation.as_of.isoformat()}]),
            self._item("context.as-of-basis", [{"valueString": evaluation.as_of_basis}]),
            self._item("context.overall", [{"valueCoding": {"system": OUTCOME_SYSTEM, "code": evaluation.overall}}]),
        ])

    # One group per criterion -------------------------------------------------------------------------
    def _criterion(self, f: Finding) -> dict:
        cid = f.criterion
        reason = self.reason_text(f)
        answer = {MET: [{"valueBoolean": True}], NOT_MET: [{"valueBoolean": False}]}.get(f.status, [])
        status = {"system": STATUS_SYSTEM, "code": f.status, "display": self.criteria_text["statusLabels"][f.status]}
        return self._group(cid, [
            self._item(f"{cid}.answer", answer, self._unanswered("not-determined", reason=reason)),
            self._item(f"{cid}.status", [{"valueCoding": status}]),
            self._item(f"{cid}.reason", [{"valueString": reason}]),
            self._item(f"{cid}.evidence", [_reference(e.reference, e.text) for e in f.evidence],
                       self._unanswered("no-citation")),
        ])

    # The billing guide's documentation list ------------------------------------------------------------
    def _documentation(self, facts: PatientFacts, evaluation: Evaluation, schedule: dict[str, list[str]]) -> dict:
        by_id = {f.criterion: f for f in evaluation.findings}
        return self._group("documentation", [
            self._cited("documentation.genetic-report", by_id.get("smn1-biallelic")),
            self._titer(by_id.get("aav9-titer")),
            self._age_weight(facts, by_id.get("age-under-2"), by_id.get("weight-in-label-range")),
            self._steroid(facts, by_id.get("corticosteroid-plan")),
            self._group("documentation.monitoring", [
                self._item(f"documentation.monitoring.{t}", [{"valueDate": d} for d in schedule.get(t, [])],
                           self._unanswered("no-planned-date")) for t in MONITORING_TESTS]),
        ])

    def _cited(self, link_id: str, f: Finding | None) -> dict:
        refs = [_reference(e.reference, e.text) for e in f.evidence] if f else []
        return self._item(link_id, refs, self._why_not(f))

    def _titer(self, f: Finding | None) -> dict:
        p = f.params if f else {}
        why = self._why_not(f)
        return self._group("documentation.titer", [
            self._item("documentation.titer.result", [{"valueString": p["titer"]}] if "titer" in p else [], why),
            self._item("documentation.titer.date", [{"valueDate": p["date"]}] if "date" in p else [], why),
            self._item("documentation.titer.days-before",
                       [{"valueInteger": p["age_days"]}] if "age_days" in p else [], why),
            self._item("documentation.titer.evidence",
                       [_reference(e.reference, e.text) for e in f.evidence[:1]] if f else [], why),
        ])

    def _age_weight(self, facts: PatientFacts, age: Finding | None, weight: Finding | None) -> dict:
        born = facts.birth_date
        months = (age.params.get("months") if age else None)
        cited = [e for f in (age, weight) if f for e in f.evidence]
        measured = _cited_measurement(facts, weight)
        why_age, why_weight = self._why_not(age), self._why_not(weight)
        return self._group("documentation.age-weight", [
            self._item("documentation.age-weight.birth-date", [{"valueDate": born.isoformat()}] if born else [],
                       why_age),
            self._item("documentation.age-weight.age-months",
                       [{"valueInteger": int(months)}] if isinstance(months, int) else [], why_age),
            self._item("documentation.age-weight.weight", [{"valueQuantity": {
                "value": measured.value, "unit": measured.unit, "system": UCUM, "code": measured.unit}}]
                if measured else [], why_weight),
            self._item("documentation.age-weight.weight-date",
                       [{"valueDate": measured.when.isoformat()}] if measured and measured.when else [], why_weight),
            self._item("documentation.age-weight.evidence", [_reference(e.reference, e.text) for e in cited],
                       self._unanswered("no-evidence")),
        ])

    def _steroid(self, facts: PatientFacts, f: Finding | None) -> dict:
        cited = {e.reference for e in f.evidence} if f else set()
        order = next((o for o in facts.steroid_orders if o.reference in cited), None)
        per_kg = f.params.get("mg_per_kg_day") if f else None
        why = self._why_not(f)
        return self._group("documentation.steroid", [
            self._item("documentation.steroid.order", [_reference(order.reference, order.evidence.text)]
                       if order else [], why),
            self._item("documentation.steroid.start", [{"valueDate": order.start.isoformat()}]
                       if order and order.start else [], why),
            self._item("documentation.steroid.mg-per-kg-day", [{"valueDecimal": float(per_kg)}]
                       if per_kg is not None else [], why),
        ])

    # Shapes ------------------------------------------------------------------------------------------
    def _why_not(self, f: Finding | None) -> str:
        if f is None:
            return self._unanswered("no-evidence")
        return self._unanswered("not-determined", reason=self.reason_text(f))

    def _unanswered(self, key: str, **params) -> str:
        return self.text["unanswered"][key].format(**params)

    def _group(self, link_id: str, items: list[dict]) -> dict:
        return {"linkId": link_id, "text": self.titles[link_id], "item": items}

    def _item(self, link_id: str, answers: list[dict], unanswered: str = "") -> dict:
        item = {"linkId": link_id, "text": self.titles[link_id]}
        if answers:
            item["answer"] = answers
        else:  # left empty, with the reason: never guessed
            item["extension"] = [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"},
                                 {"url": UNANSWERED_REASON, "valueString": unanswered}]
        return item


def _reference(reference: str, display: str) -> dict:
    return {"valueReference": {"reference": reference, "display": display}}


def _cited_measurement(facts: PatientFacts, f: Finding | None) -> Measurement | None:
    """The weight the finding cites, as a typed fact (value, canonical unit, date)."""
    cited = {e.reference for e in f.evidence} if f else set()
    return next((m for m in facts.measurements if m.reference in cited and m.analyte == "weight"), None)


def _texts(items: list[dict]) -> dict[str, str]:
    out = {}
    for item in items:
        out[item["linkId"]] = item["text"]
        out.update(_texts(item.get("item", [])))
    return out
