"""The readiness plan -> one card (wording in cards/readiness.json; orders from cards/orders.json)."""

from __future__ import annotations

from datetime import timedelta

from . import extensions
from .cards import CardBuilder, prune, summary_text
from .markdown import md
from .orders import OrderSuggester, service_request, suggestion
from .rules.dosing import MAX_WEIGHT_KG, MIN_WEIGHT_KG
from .rules.eligibility import TITER_MAX_AGE_DAYS, WEIGHT_MAX_AGE_DAYS
from .rules.findings import MET
from .rules.readiness import (
    BLOCKED,
    BLOCKS,
    DONE,
    EXPIRES,
    MISSING,
    NOT_READY,
    READY,
    REVIEW_STATUS,
    TITER_RESULT_DAYS,
    TREND_DAYS,
    Readiness,
    dates_unread,
)

# a result on record, too old for the target date: said so, with the date to renew it from, never "missing"
_TOO_OLD = ("titer-stale", "weight-stale")
_BASELINE = ("baseline-liver-function", "baseline-platelets-troponin", "corticosteroid-plan")


class ReadinessCards:
    def __init__(self, wording, builder: CardBuilder, facts, new_id):
        self.w, self.t, self.builder, self.facts, self.new_id = wording, wording.readiness, builder, facts, new_id

    def card(self, r: Readiness) -> dict:
        t = self.t
        open_gates = [g for g in r.gates if g.status != DONE]
        blocking = [g for g in r.gates if g.status == BLOCKS]
        params = dict(target=r.target.isoformat(), last=r.last_possible.isoformat(), open=len(open_gates),
                      total=len(r.gates), open_names=self._names(open_gates),
                      blocking=", ".join(t["blockingWords"].get(g.criterion) or self._short(g.criterion)
                                         for g in blocking))
        titer_turnaround = "titer-turnaround" in r.notes and [g.criterion for g in blocking] == ["age-under-2"]
        summary = t["summary"]["titer-turnaround" if titer_turnaround else r.overall].format(**params)
        # Never calmer than the order-sign check on the same data (review 2026-11-24g G8): a result it warns about
        # (met with a caution: platelets below range, troponin-I above) is named as a check, a gate it refers to the
        # Medical Director is named with its problem (ALT >= 2 x ULN), never as a plain "to do"; both warn.
        cautions = [g for g in r.gates if g.status == DONE and g.finding.caution]
        reviews = [g for g in r.gates if g.status == REVIEW_STATUS]
        checks = ", ".join(self.w.problem(g.finding) for g in cautions)
        if r.overall == READY and cautions:
            summary = t["summary"]["ready-checks"].format(count=len(cautions), count_s="s"[:len(cautions) > 1],
                                                           checks=checks, **params)
        elif r.overall == NOT_READY and reviews and not titer_turnaround:
            others = [g for g in open_gates if g.status != REVIEW_STATUS]
            todo = t["summary"]["reviewTodo"].format(open_names=self._names(others)) if others else ""
            summary = t["summary"]["review"].format(
                reviews=", ".join(self.w.problem(g.finding) for g in reviews), todo=todo, **params)
        basis = t["targetBasis"][r.target_basis].format(
            reference=md(r.target_evidence), date=r.target.isoformat(),
            how=t["recognisedBy"].get(r.target_recognised_by, "").format(quote=md(r.target_quote)),
            start=r.steroid_start.isoformat() if r.steroid_start else "")
        lines = [t["intro"].format(basis=basis, today=r.today.isoformat(), earliest=r.earliest_feasible.isoformat(),
                                   titer_days=TITER_RESULT_DAYS, **params)]
        planned = self.facts.order.planned_date.isoformat() if self.facts.order and self.facts.order.planned_date \
            else ""
        others = "; ".join(f"{md(ref)} on {day.isoformat()}" for ref, day in r.other_dates)
        for note in r.notes:
            if note == "too-late-for-plan" and "titer-turnaround" in r.notes:
                continue  # the turnaround note says why, without blaming age
            lines += ["", t["noteTexts"][note].format(
                planned=planned, others=others, start=r.steroid_start.isoformat() if r.steroid_start else "",
                last=r.last_possible.isoformat(), sources=", ".join(dates_unread(self.facts)),
                titer_days=TITER_RESULT_DAYS, earliest=r.earliest_feasible.isoformat())]
        lines += ["", self._weight_line(r)]
        if r.overall == READY:
            lines += ["", t["readyChecksNote"].format(count=len(cautions), count_s="s"[:len(cautions) > 1],
                                                      count_verb="" if len(cautions) > 1 else "s", checks=md(checks))
                      if cautions else t["readyNote"]]
        lines += ["", t["tableHead"], "|---|---|---|---|---|"]
        for g in r.gates:
            status, why = self._status(r, g), self._why(r, g)
            # a step done needs no last date (a titer in hand is not bound by the send-out week)
            when = t["when"][("window" if g.not_before else "by") + ("Done" if g.status == DONE else "")].format(
                not_before=g.not_before.isoformat() if g.not_before else "", by=g.by.isoformat(),
                latest=g.latest.isoformat())
            if g.late:
                when += t["when"]["late"]
            title = self.w.criterion(g.criterion)["title"]
            lines.append(f"| {t['steps'][g.step]} | {title} | **{status}** | {when} | {why} |")
        suggestions = self._suggestions(r)
        if any(g.criterion == "aav9-titer" and g.status != DONE for g in r.gates):
            lines += ["", t["titerWindow"].format(span=self._span(*self._titer_window(r), r.today))]
        evidence = [e for g in r.gates for e in g.finding.evidence]
        if evidence:
            lines += ["", "**Evidence:**"] + self.builder.evidence_lines(_unique(evidence))
        indicator = {"ready": "info", "not-ready": "info", "blocked": "warning"}[r.overall]
        if (any(g.late for g in r.gates) or cautions or reviews) and indicator == "info":
            indicator = "warning"
        return prune({
            "uuid": self.new_id(), "summary": summary_text(summary), "indicator": indicator,
            "detail": "\n".join(lines), "source": self.builder.source("clinical-reminder"),
            "suggestions": suggestions, "selectionBehavior": "any" if suggestions else None,
            "extension": {extensions.READINESS: self._extension(r)},
        })

    def _names(self, gates) -> str:
        """The open gates by their short names; past three, the first two and a count (summary under 140)."""
        names = [self._short(g.criterion) for g in gates]
        return ", ".join(names) if len(names) <= 3 else self.t["andMore"].format(
            first=", ".join(names[:2]), more=len(names) - 2)

    def _short(self, criterion: str) -> str:
        return self.w.criterion(criterion).get("short") or criterion

    def _status(self, r: Readiness, g) -> str:
        t = self.t
        if g.status == EXPIRES or (g.status == MISSING and g.finding.reason in _TOO_OLD):
            renew = t["renew"].get(g.criterion, t["renew"]["_default"])
            start = max(r.today, g.not_before) if g.not_before else r.today
            return t["statusLabels"]["expires"].format(target=r.target.isoformat(), renew=renew,
                                                       renew_from=start.isoformat())
        if g.criterion == "corticosteroid-plan" and g.status == MISSING and r.steroid_recheck:
            return t["statusLabels"]["steroid-recheck"].format(order=self._steroid_order(r.steroid_recheck.order),
                                                               weight_from=self._weight_from(r))
        if g.status == DONE and g.finding.caution:
            return t["statusLabels"]["done-check"]
        return t["statusLabels"][g.status]

    def _why(self, r: Readiness, g) -> str:
        """The gate's reason, said with its numbers where the readiness plan knows them; one line, single spaces."""
        texts, f = self.t["gateTexts"], g.finding
        text = self.builder.reason_text(f)
        if f.reason == "weight-out-of-range" and f.evidence:
            weight = next((m for m in self.facts.measurements if m.analyte == "weight"
                           and m.evidence.reference == f.evidence[0].reference), None)
            if weight and weight.when:
                text = texts["weight-out-of-range"].format(
                    weight=f"{weight.value:g}", date=weight.when.isoformat(), low=f"{MIN_WEIGHT_KG:g}",
                    high=f"{MAX_WEIGHT_KG:.1f}", side="above" if weight.value > MAX_WEIGHT_KG else "below")
        elif g.criterion == "corticosteroid-plan" and g.status == MISSING and r.steroid_recheck:
            rc = r.steroid_recheck
            per_kg = self.t["steroidPerKg"].format(weight=f"{rc.weight.value:g}", date=rc.weight.when.isoformat(),
                                                   per_kg=f"{rc.mg_per_kg_day:.2f}") \
                if rc.weight and rc.mg_per_kg_day is not None else ""
            text = texts["steroid-recheck"].format(reference=md(rc.order.reference),
                                                   order=self._steroid_order(rc.order), per_kg=per_kg,
                                                   weight_from=self._weight_from(r))
        return " ".join(text.split())

    def _weight_from(self, r: Readiness) -> str:
        return max(r.today, r.target - timedelta(days=WEIGHT_MAX_AGE_DAYS)).isoformat()

    def _steroid_order(self, order) -> str:
        """'7 mg daily from 2026-12-07' from the order as read."""
        dose = order.dose
        unit = {"mg/d": "mg/day", "mg/kg/d": "mg/kg/day"}.get(dose.unit, dose.unit)
        text = f"{dose.value:g} {unit}"
        if dose.unit in ("mg", "mg/kg") and order.per_day:
            freq = self.t["frequency"]
            n = f"{order.per_day:g}"
            text += " " + (freq.get(n) or freq["_other"].format(n=n))
        if order.start:
            text += f" from {order.start.isoformat()}"
        return md(text)

    def _span(self, start: str, end: str, today) -> str:
        s = self.t["span"]
        if start != end:
            return s["range"].format(start=start, end=end)
        return s["today" if start == today.isoformat() else "one"].format(start=start)

    def _weight_line(self, r: Readiness) -> str:
        w = self.t["weight"]
        trend = r.weight_trend
        if trend is None:
            return w["none"]
        common = dict(rate=f"{trend.kg_per_month:+.2f}", count=len(trend.evidence), limit=f"{MAX_WEIGHT_KG:g}",
                      since=(r.today - timedelta(days=TREND_DAYS)).isoformat())
        if trend.above is not None:
            return w["above"].format(weight=f"{trend.above.value:g}", date=trend.above.when.isoformat(),
                                    limit_1=f"{MAX_WEIGHT_KG:.1f}", **common)
        if trend.passed:
            return w["passed"].format(**common)
        if trend.reaches_limit is None:
            return w["flat"].format(**common)
        before = w["beforeLast"] if trend.reaches_limit <= r.last_possible else ""
        return w["rising"].format(reaches=trend.reaches_limit.isoformat(), before_last=before, **common)

    def _titer_window(self, r: Readiness) -> tuple[str, str]:
        start = max(r.today, r.target - timedelta(days=TITER_MAX_AGE_DAYS))
        end = max(start, r.target - timedelta(days=TITER_RESULT_DAYS))
        return start.isoformat(), end.isoformat()

    def _suggestions(self, r: Readiness) -> list[dict]:
        """What is missing, as orders: the titer with its draw window; baseline labs and prednisolone from the
        same suggester the order-sign service uses (dated from the target date)."""
        out = []
        gates = {g.criterion: g for g in r.gates}
        titer = gates.get("aav9-titer")
        # what blocks is settled first (age, weight, titer above 1:50, ...); only a titer that a faster result
        # could still bring in before the second birthday is ordered then (drawn today)
        if r.overall == BLOCKED and "titer-turnaround" not in r.notes:
            return out
        if titer and titer.status not in (DONE, BLOCKS):
            start, end = self._titer_window(r)
            resource = service_request(self.w.orders, "aav9-titer", self.facts.patient_reference,
                                       self.t["titerReason"], occurrence_period={"start": start, "end": end})
            out.append(suggestion(self.t["titerSuggestion"].format(span=self._span(start, end, r.today)),
                                  [resource], "baseline", self.new_id))
        if r.overall == BLOCKED:
            return out
        suggester = OrderSuggester(self.w.orders, r.evaluation, self.facts, self.new_id)
        for criterion in _BASELINE:
            gate = gates.get(criterion)
            if gate and gate.status not in (DONE, BLOCKS):
                out += suggester.for_finding(gate.finding)
        if r.evaluation.finding("baseline-platelets-troponin").status == MET or "platelets" not in \
                r.evaluation.finding("baseline-platelets-troponin").missing:
            gaps = suggester.label_baseline_gaps()
            if gaps:
                out.append(suggester.baseline(gaps, "label-baseline"))
        return out

    def _extension(self, r: Readiness) -> dict:
        trend = r.weight_trend
        return {
            "overall": r.overall, "asOf": r.today.isoformat(), "target": r.target.isoformat(),
            "targetBasis": r.target_basis, "targetEvidence": r.target_evidence or None,
            "targetRecognisedBy": r.target_recognised_by or None,
            "otherPlannedDates": [{"reference": ref, "date": day.isoformat()} for ref, day in r.other_dates],
            "earliestFeasible": r.earliest_feasible.isoformat(), "lastPossible": r.last_possible.isoformat(),
            "weightTrend": {"kgPerMonth": trend.kg_per_month,
                            "reachesLimit": trend.reaches_limit.isoformat() if trend.reaches_limit else None,
                            "evidence": [e.reference for e in trend.evidence]} if trend else None,
            "gates": [{"criterion": g.criterion, "step": g.step, "status": g.status,
                       "criterionStatus": g.finding.status, "reasonCode": g.finding.reason,
                       "by": g.by.isoformat(), "latest": g.latest.isoformat(),
                       "notBefore": g.not_before.isoformat() if g.not_before else None,
                       "expires": g.expires.isoformat() if g.status == EXPIRES and g.expires else None,
                       "late": True if g.late else None,
                       "evidence": [e.reference for e in g.finding.evidence]} for g in r.gates],
            "notes": list(r.notes),
        }


def _unique(evidence) -> list:
    seen, out = set(), []
    for e in evidence:
        key = (e.reference, e.text)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
