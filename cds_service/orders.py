"""Suggested orders (CDS Hooks suggestions with `create` actions), from templates in cards/orders.json.

- Prednisolone 1 mg/kg/day from day -1 for 30 doses (FDA label 2.1), only when no corticosteroid plan exists.
- Baseline tests for the gaps the rules found (DR.005.D criteria 6, 8, 9; label baseline creatinine/CBC).
- Post-infusion monitoring with concrete dates from the planned infusion date (day 0).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .facts import PatientFacts
from .rules.eligibility import BASELINE_LAB_MAX_AGE_DAYS
from .rules.findings import NOT_ELIGIBLE, UNKNOWN, Evaluation, Finding
from .terminology import LOINC, PREDNISOLONE, UCUM

PREDNISOLONE_MG_PER_ML = Decimal("3")  # 15 mg/5 mL oral solution
STEROID_DOSES = 30  # FDA label 2.1: day -1 through day 28


class OrderSuggester:
    def __init__(self, templates: dict, evaluation: Evaluation, facts: PatientFacts, new_id: Callable[[], str],
                 resources: list[dict] | None = None):
        self.t = templates
        self.resources = resources or []  # the order, drafts and records read (for an update of one of them)
        self.evaluation = evaluation
        self.facts = facts
        self.new_id = new_id
        # Day 0 for dated orders: the planned infusion date only when the evaluation could use it (a date
        # before today is not a basis: nothing is ordered in the past).
        self.planned = evaluation.as_of if evaluation.as_of_basis == "planned-infusion-date" else None
        self._schedule: dict[str, list[str]] | None = None

    # Suggestions attached to a criterion card ----------------------------------------------------
    def for_finding(self, f: Finding) -> list[dict]:
        if f.criterion == "corticosteroid-plan" and f.reason in ("no-steroid-plan", "steroid-plan-ended"):
            s = self.prednisolone()
            return [s] if s else []
        if f.criterion == "corticosteroid-plan" and f.params.get("duplicates"):
            return [self.cancel_duplicates(f.params["duplicates"])]
        if f.criterion == "corticosteroid-plan" and f.reason == "steroid-course-short":
            s = self.extend_course(f)
            return [s] if s else []
        if f.criterion == "aav9-titer" and f.reason == "titer-above-limit":
            return [self.repeat_titer()]
        tests = [t for t in self._baseline_tests(f) if not self.pending(t)]
        if tests and f.criterion == "baseline-platelets-troponin":
            tests += self._label_panel()  # the label's baseline creatinine, in the same baseline panel
        return [self.baseline(tests, f.criterion)] if tests else []

    def _label_panel(self) -> list[str]:
        """The label's baseline creatinine (LOINC 2160-0) when missing or old and not already on order: ordered
        with the criterion 9 baseline panel when that card orders one (the monitoring card then does not)."""
        platelets = self.evaluation.finding("baseline-platelets-troponin")
        if platelets.status != UNKNOWN or not [t for t in self._baseline_tests(platelets) if not self.pending(t)]:
            return []
        return [t for t in self.label_baseline_gaps() if t == "creatinine" and not self.pending(t)]

    def pending_notes(self, f: Finding) -> list[str]:
        """Card lines for the tests this finding needs that are already drafted or active (not suggested again)."""
        return self._pending_lines(self._baseline_tests(f))

    def _baseline_tests(self, f: Finding) -> list[str]:
        tests: list[str] = []
        if f.status == UNKNOWN and f.criterion in ("baseline-liver-function", "baseline-platelets-troponin",
                                                   "aav9-titer"):
            for gap in f.missing:
                test = self.t["baseline"]["gaps"].get(gap)
                if test and test not in tests:
                    tests.append(test)
        return tests

    def pending(self, test: str) -> list:
        """Orders on record or in this session's draftOrders for `test`, matched by code (LOINC of the template;
        a test without a verified code, such as the AAV9 titer, cannot be matched and is suggested)."""
        spec = self.t["tests"][test]
        codes = {(LOINC, c) for c in [spec.get("loinc")] + [c for c, _ in spec.get("alsoLoinc", [])] if c}
        return [p for p in self.facts.pending_orders if p.codes & codes]

    def _pending_lines(self, tests: list[str]) -> list[str]:
        text = self.t["pending"]
        items = [text["item"].format(test=self.t["tests"][t]["label"], reference=p.reference, status=p.status,
                                     authored=f", authored {p.authored}" if p.authored else "")
                 for t in tests for p in self.pending(t)]
        return [text["note"].format(orders="; ".join(items))] if items else []

    def prednisolone(self) -> dict | None:
        kit_weight = self.evaluation.kit.weight_kg if self.evaluation.kit else None
        if kit_weight is None:
            return None  # no current weight in the label range: the weight card asks for one first
        weight = Decimal(str(kit_weight))
        dose = (weight * 2).quantize(Decimal("1"), rounding=ROUND_HALF_UP) / 2  # nearest 0.5 mg
        volume = (dose / PREDNISOLONE_MG_PER_ML).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        p = self.t["prednisolone"]
        start = self.planned - timedelta(days=1) if self.planned else None
        # An infusion planned for today leaves day -1 in the past (review 2026-11-24f F7): nothing is ordered
        # before today, so the course starts today, as day -1 of an infusion moved to tomorrow (FDA label 2.1).
        moved = start is not None and self.evaluation.today is not None and start < self.evaluation.today
        if moved:
            start = self.evaluation.today
        end = start + timedelta(days=STEROID_DOSES - 1) if start else None
        values = dict(dose_mg=f"{dose:g}", volume_ml=f"{volume:g}", weight_kg=f"{weight:g}",
                      mg_per_kg=f"{dose / weight:.2f}",
                      start=start.isoformat() if start else "the day before infusion",
                      end=end.isoformat() if end else "day 28",
                      infusion=(start + timedelta(days=1)).isoformat() if start else "",
                      planned=self.planned.isoformat() if self.planned else "")
        repeat = {"frequency": 1, "period": 1, "periodUnit": "d"}
        if start:
            repeat["boundsPeriod"] = {"start": start.isoformat(), "end": end.isoformat()}
        else:
            repeat["boundsDuration"] = {"value": STEROID_DOSES, "unit": "d", "system": UCUM, "code": "d"}
        resource = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": self.facts.patient_reference},
            "medicationCodeableConcept": {"coding": [PREDNISOLONE.coding()], "text": p["medicationText"]},
            "reasonCode": [{"text": "Zolgensma corticosteroid prophylaxis (FDA label 2.1; DR.005.D criterion 7)"}],
            "dosageInstruction": [{
                "text": p["dosageText"].format(**values),
                "timing": {"repeat": repeat},
                "route": {"text": "oral"},
                "doseAndRate": [{"doseQuantity": {"value": float(dose), "unit": "mg", "system": UCUM, "code": "mg"}}],
            }],
            "note": [{"text": p["note"]}] + ([{"text": p["movedNote"].format(**values)}] if moved else []),
        }
        label = p["suggestionLabelMoved" if moved else "suggestionLabel"].format(**values)
        return self._suggestion(label, [resource], "prednisolone")

    def cancel_duplicates(self, references: tuple[str, ...]) -> dict:
        """CDS Hooks 2.0 `delete` actions (relative `resourceId`, no `resource`) for duplicate corticosteroid
        orders, which are in this session's draftOrders or on record (the rule read them there)."""
        d = self.t["duplicateSteroid"]
        return {"label": d["suggestionLabel"].format(orders=", ".join(references))[:200], "uuid": self.new_id(),
                "isRecommended": True,
                "actions": [{"type": "delete", "description": d["description"].format(order=r), "resourceId": r}
                            for r in references]}

    def extend_course(self, f: Finding) -> dict | None:
        """A CDS Hooks `update` of a corticosteroid order that ends before day 28: the same order, its one dosage's
        boundsPeriod.end moved to day 28. Only when that is clean: the order read in full (draft or on record), one
        dosage instruction, a boundsPeriod with an end; otherwise nothing is suggested."""
        reference, last_day = (f.evidence[0].reference if f.evidence else ""), f.params.get("last_day")
        found = [r for r in self.resources if isinstance(r, dict) and r.get("resourceType") == "MedicationRequest"
                 and f"MedicationRequest/{r.get('id')}" == reference]
        if len(found) != 1 or not last_day:
            return None
        dosages = found[0].get("dosageInstruction") or []
        bounds = (((dosages[0].get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
                  if len(dosages) == 1 else None)
        if not isinstance(bounds, dict) or not bounds.get("end") or str(bounds["end"]) in str(dosages[0].get("text")):
            return None  # a dosage text naming the old end would contradict the update
        updated = copy.deepcopy(found[0])
        updated["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = last_day
        e = self.t["extendSteroid"]
        return {"label": e["suggestionLabel"].format(order=reference, end=last_day)[:200], "uuid": self.new_id(),
                "isRecommended": True,
                "actions": [{"type": "update", "description": e["description"].format(order=reference, end=last_day),
                             "resource": updated}]}

    def repeat_titer(self) -> dict:
        """A titer above 1:50 may be repeated (FDA label summary, clinical-facts 1.7): a repeat ELISA titer
        order, text only (no verified LOINC code), drawn before the infusion when the planned date is known."""
        r = self.t["repeatTiter"]
        when = {"end": (self.planned - timedelta(days=1)).isoformat()} if self.planned else None
        return self._suggestion(r["suggestionLabel"],
                                [self._service_request("aav9-titer", r["reason"], occurrence_period=when)], "repeat")

    def baseline(self, tests: list[str], criterion: str) -> dict:
        source = {"aav9-titer": "DR.005.D criterion 6", "baseline-liver-function": "DR.005.D criterion 8",
                  "baseline-platelets-troponin": "DR.005.D criterion 9"}.get(criterion, "FDA label baseline")
        reason = self.t["baseline"]["reason"].format(source=source)
        # Drawn before the infusion: by day -1 when the planned date is known.
        when = {"end": (self.planned - timedelta(days=1)).isoformat()} if self.planned else None
        resources = [self._service_request(test, reason, occurrence_period=when) for test in tests]
        label = self.t["baseline"]["suggestionLabel"].format(
            tests=", ".join(self.t["tests"][x]["label"] for x in tests))
        return self._suggestion(label, resources, "baseline")

    # The monitoring card ---------------------------------------------------------------------------
    def monitoring_card(self, builder) -> dict | None:
        if self.evaluation.overall == NOT_ELIGIBLE:
            return None
        m = self.t["monitoring"]
        suggestions = []
        lines = []
        if self.planned:
            lines.append(m["detail"].format(day0=self.planned.isoformat()))
            lines.append("")
            lines.append("| Test | Dates |")
            lines.append("|---|---|")
            for test, dates in self.schedule().items():
                lines.append(f"| {self.t['tests'][test]['label']} | {', '.join(dates)} |")
            resources = [self._service_request(test, m["reason"], events=dates)
                         for test, dates in self.schedule().items()]
            suggestions.append(self._suggestion(m["suggestionLabel"], resources, "monitoring"))
        else:
            # A planned date the evaluation could not use has its own card: point there, do not repeat it.
            unusable = self.facts.order is not None and self.facts.order.planned_date is not None
            lines.append(m["detail"].format(day0=m["day0Unusable" if unusable else "day0Missing"]))
        label_gaps = self.label_baseline_gaps()
        to_order = [t for t in label_gaps if not self.pending(t) and t not in self._label_panel()]
        if label_gaps:
            lines += ["", m["labelBaseline"]]
        pending = self._pending_lines(label_gaps)
        if pending:
            lines += ["", *pending]
        if to_order:
            suggestions.append(self.baseline(to_order, "label-baseline"))
        card = {
            "uuid": self.new_id(),
            "summary": m["summary"],
            # The label's baseline creatinine/CBC missing or old: a warning (not a DR.005.D criterion, not blocking).
            "indicator": "warning" if label_gaps else "info",
            "detail": "\n".join(lines),
            "source": builder.source("clinical-reminder"),
        }
        if suggestions:  # suggested resources are built complete; CDS Hooks wants no empty members
            card.update(suggestions=suggestions, selectionBehavior="any")
        return card

    def schedule(self) -> dict[str, list[str]]:
        """ISO dates of each monitoring draw, from the planned infusion date (day 0)."""
        if self._schedule is None:
            self._schedule = {}
            if self.planned:
                plan = self.t["monitoring"]["schedule"]
                day0 = self.planned.toordinal()
                offsets = {offset for days in plan.values() for offset in days}  # each date formatted once
                iso = {offset: date.fromordinal(day0 + offset).isoformat() for offset in offsets}
                self._schedule = {test: [iso[d] for d in days] for test, days in plan.items()}
        return self._schedule

    def label_baseline_problems(self) -> list[str]:
        """The label baseline tests missing or old, as the first card names them (plain text), when the monitoring
        card (which says so and orders them) is shown."""
        gaps = self.label_baseline_gaps() if self.evaluation.overall != NOT_ELIGIBLE else []
        if not gaps:
            return []
        return [self.t["monitoring"]["labelBaselineProblem"].format(
            tests=", ".join(self.t["tests"][t]["label"] for t in gaps))]

    def label_baseline_gaps(self) -> list[str]:
        """Label baseline tests outside DR.005.D: creatinine and a CBC (hemoglobin)."""
        gaps = []
        as_of = self.evaluation.as_of
        for analyte, test in (("creatinine", "creatinine"), ("hemoglobin", "cbc")):
            m = self.facts.latest(analyte, as_of)
            if m is None or (as_of - m.when).days > BASELINE_LAB_MAX_AGE_DAYS:
                gaps.append(test)
        platelets_card = self.evaluation.finding("baseline-platelets-troponin")
        if "cbc" in gaps and "platelets" in platelets_card.missing:
            gaps.remove("cbc")  # already suggested on the platelets card
        return gaps

    def extension(self) -> dict:
        out = {}
        if self.evaluation.kit:
            out["kit"] = self.evaluation.kit.as_extension()
        if self.planned:
            out["monitoringSchedule"] = self.schedule()
        return out

    def _service_request(self, test: str, reason: str, events: list[str] | None = None,
                         occurrence_period: dict | None = None) -> dict:
        return service_request(self.t, test, self.facts.patient_reference, reason, events, occurrence_period)

    def _suggestion(self, label: str, resources: list[dict], kind: str) -> dict:
        return suggestion(label, resources, kind, self.new_id)


def service_request(templates: dict, test: str, patient_ref: str, reason: str, events: list[str] | None = None,
                    occurrence_period: dict | None = None) -> dict:
    """A draft lab ServiceRequest from the order templates (LOINC where verified, text otherwise)."""
    spec = templates["tests"][test]
    if "loinc" in spec:
        codings = [{"system": LOINC, "code": spec["loinc"], "display": spec["display"]}]
        codings += [{"system": LOINC, "code": c, "display": d} for c, d in spec.get("alsoLoinc", [])]
        code = {"coding": codings, "text": spec["label"]}
    else:
        code = {"text": spec["text"]}
    resource = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": code,
        "subject": {"reference": patient_ref},
        "reasonCode": [{"text": reason}],
    }
    if events:
        resource["occurrenceTiming"] = {"event": list(events)}
    elif occurrence_period:
        resource["occurrencePeriod"] = occurrence_period
    return resource


def sign_orders(cards: list[dict], requester: str, today: date) -> list[dict]:
    """Every suggested order gets `authoredOn` (today) and `requester` (the hook's context.userId).

    Da Vinci CRD 2.0.1 cards.md: resources in suggestions SHALL comply with the CRD profiles, where
    profile-servicerequest and profile-medicationrequest make both 1..1. Done here, once, for every card
    (eligibility and monitoring), so no order template can miss them."""
    authored = today.isoformat()
    for card in cards:
        for s in card.get("suggestions") or ():
            for action in s.get("actions") or ():
                resource = action.get("resource")
                if action.get("type") == "create" and resource.get("resourceType") in _ORDERS:
                    resource["authoredOn"] = authored
                    resource["requester"] = {"reference": requester}
    return cards


_ORDERS = ("ServiceRequest", "MedicationRequest")


def suggestion(label: str, resources: list[dict], kind: str, new_id: Callable[[], str]) -> dict:
    return {
        "label": label[:200],
        "uuid": new_id(),
        "isRecommended": True,
        "actions": [{"type": "create", "description": _describe(r, kind), "resource": r} for r in resources],
    }


def _describe(resource: dict, kind: str) -> str:
    if resource["resourceType"] == "MedicationRequest":
        # The whole dosage text (it was cut mid-word at 160 characters); `kind` is "prednisolone" here.
        return "Create prednisolone order: " + resource["dosageInstruction"][0]["text"]
    code = resource["code"].get("text") or resource["code"]["coding"][0]["display"]
    return f"Create {kind} lab order: {code}"
