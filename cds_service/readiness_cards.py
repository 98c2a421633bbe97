"""The readiness plan -> one card (wording in cards/readiness.json; orders from cards/orders.json)."""

from __future__ import annotations

from datetime import timedelta

from . import extensions
from .cards import CardBuilder, prune, summary_text
from .markdown import md
from .orders import OrderSuggester, service_request, suggestion
from .rules.dosing import MAX_WEIGHT_KG
from .rules.eligibility import TITER_MAX_AGE_DAYS
from .rules.findings import MET
from .rules.readiness import (
    BLOCKED,
    BLOCKS,
    DONE,
    EXPIRES,
    READY,
    TITER_RESULT_DAYS,
    TREND_DAYS,
    Readiness,
    dates_unread,
)

_BASELINE = ("baseline-liver-function", "baseline-platelets-troponin", "corticosteroid-plan")


class ReadinessCards:
    def __init__(self, wording, builder: CardBuilder, facts, new_id):
        self.w, self.t, self.builder, self.facts, self.new_id = wording, wording.readiness, builder, facts, new_id

    def card(self, r: Readiness) -> dict:
        t = self.t
        open_gates = [g for g in r.gates if g.status != DONE]
        blocking = [g for g in r.gates if g.status == BLOCKS]
        params = dict(target=r.target.isoformat(), last=r.last_possible.isoformat(), open=len(open_gates),
                      total=len(r.gates), blocking=", ".join(g.criterion for g in blocking))
        summary = t["summary"][r.overall].format(**params)
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
            lines += ["", t["noteTexts"][note].format(
                planned=planned, others=others, start=r.steroid_start.isoformat() if r.steroid_start else "",
                last=r.last_possible.isoformat(), sources=", ".join(dates_unread(self.facts)))]
        lines += ["", self._weight_line(r)]
        if r.overall == READY:
            lines += ["", t["readyNote"]]
        lines += ["", t["tableHead"], "|---|---|---|---|---|"]
        for g in r.gates:
            status = t["statusLabels"][g.status].format(expires=g.expires.isoformat() if g.expires else "")
            when = (t["when"]["window"] if g.not_before else t["when"]["by"]).format(
                not_before=g.not_before.isoformat() if g.not_before else "", by=g.by.isoformat(),
                latest=g.latest.isoformat())
            if g.late:
                when += t["when"]["late"]
            title = self.w.criterion(g.criterion)["title"]
            lines.append(f"| {t['steps'][g.step]} | {title} | **{status}** | {when} | "
                         f"{self.builder.reason_text(g.finding)} |")
        suggestions = self._suggestions(r)
        if any(g.criterion == "aav9-titer" and g.status != DONE for g in r.gates):
            start, end = self._titer_window(r)
            lines += ["", t["titerWindow"].format(start=start, end=end)]
        evidence = [e for g in r.gates for e in g.finding.evidence]
        if evidence:
            lines += ["", "**Evidence:**"] + self.builder.evidence_lines(_unique(evidence))
        indicator = {"ready": "info", "not-ready": "info", "blocked": "warning"}[r.overall]
        if any(g.late for g in r.gates) and indicator == "info":
            indicator = "warning"
        return prune({
            "uuid": self.new_id(), "summary": summary_text(summary), "indicator": indicator,
            "detail": "\n".join(lines), "source": self.builder.source("clinical-reminder"),
            "suggestions": suggestions, "selectionBehavior": "any" if suggestions else None,
            "extension": {extensions.READINESS: self._extension(r)},
        })

    def _weight_line(self, r: Readiness) -> str:
        w = self.t["weight"]
        trend = r.weight_trend
        if trend is None:
            return w["none"]
        common = dict(rate=f"{trend.kg_per_month:+.2f}", count=len(trend.evidence), limit=f"{MAX_WEIGHT_KG:g}",
                      since=(r.today - timedelta(days=TREND_DAYS)).isoformat())
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
        if r.overall == BLOCKED:  # what blocks is settled first (age, weight, titer above 1:50, ...)
            return out
        gates = {g.criterion: g for g in r.gates}
        titer = gates.get("aav9-titer")
        if titer and titer.status not in (DONE, BLOCKS):
            start, end = self._titer_window(r)
            resource = service_request(self.w.orders, "aav9-titer", self.facts.patient_reference,
                                       self.t["titerReason"], occurrence_period={"start": start, "end": end})
            out.append(suggestion(self.t["titerSuggestion"].format(start=start, end=end), [resource], "baseline",
                                  self.new_id))
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
