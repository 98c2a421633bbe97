"""Post-infusion monitoring evaluation -> cards (wording in cards/monitoring.json, orders from orders.json)."""

from __future__ import annotations

from . import extensions
from .cards import CardBuilder, prune, summary_text
from .markdown import md, md_params, plain
from .orders import service_request, suggestion
from .quantities import plain_list
from .rules.milestones import Milestones
from .rules.monitoring_terms import LFT_RECENT_DAYS, SEVERITY_ORDER, MonitoringEvaluation
from .terminology import PREDNISOLONE

# Monitoring tests -> order templates in cards/orders.json
ORDER_TESTS = {"lft": ("hepatic-panel", "pt-inr"), "platelets": ("platelets",), "troponin-i": ("troponin-i",)}
# Alert cards about one monitored test's results (the first card names that test as abnormal).
ALERT_TESTS = {"troponin-rise": "troponin-i", "platelet-fall": "platelets", "tma-signs": "platelets",
               "alt-ast-2x": "lft", "alt-ast-2x-after-course": "lft", "bilirubin-pt-above-uln": "lft",
               "acute-liver-injury": "lft"}
LFT_ORDERED_WITH = ("continue-steroid", "taper-needs-lft")  # alert cards that also suggest liver tests


class MonitoringCards:
    def __init__(self, wording: dict, orders: dict, builder: CardBuilder, patient_ref: str):
        self.t, self.orders, self.builder, self.patient_ref = wording, orders, builder, patient_ref

    def all(self, ev: MonitoringEvaluation, milestones: Milestones | None = None) -> list[dict]:
        """The summary first (its indicator is the worst of all), then critical alerts, overdue draws, the rest,
        and the outcomes milestones card last."""
        critical = [a for a in ev.alerts if a.severity == "critical"]
        first = self.summary(ev, milestones)
        if ev.overdue_tests:  # the overdue draws' order sits on the card that says they are overdue
            first = self.with_overdue_orders(first, ev)
        cards = [first] + [self.alert(ev, a) for a in critical]
        cards += [self.alert(ev, a) for a in ev.alerts if a.severity != "critical"]
        if milestones:
            cards.append(self.milestones(ev, milestones))
        return cards

    def milestones(self, ev: MonitoringEvaluation, m: Milestones) -> dict:
        t = self.t["milestones"]
        by_status = {s: [v for v in m.visits if v.status == s] for s in ("overdue", "due", "unknown", "upcoming")}
        if by_status["overdue"]:
            summary, indicator = t["summary"]["overdue"].format(months=_months(by_status["overdue"])), "warning"
        elif by_status["due"]:
            summary, indicator = t["summary"]["due"].format(months=_months(by_status["due"])), "info"
        elif by_status["unknown"]:
            summary, indicator = t["summary"]["unknown"], "warning"
        else:
            nxt = by_status["upcoming"][0] if by_status["upcoming"] else None
            summary = t["summary"]["ok" if nxt else "complete"].format(
                next=f"month {nxt.month} on {nxt.due.isoformat()}" if nxt else "")
            indicator = "info"
        lines = [t["intro"].format(infusion=ev.infusion.isoformat()), "", t["tableHead"], "|---|---|---|---|---|---|"]
        for v in m.visits:
            documented = "; ".join(f"{md(a.evidence.text)} ({md(a.reference)})" for a in v.motor + v.developmental)
            missing = ", ".join(t["missingLabels"][x] for x in v.missing) if v.status != "done" else ""
            lines.append(f"| {v.month} | {v.due.isoformat()} | {v.window[0].isoformat()} to {v.window[1].isoformat()} "
                         f"| **{t['statusLabels'][v.status]}** | {documented or '-'} | {missing or '-'} |")
        lines += ["", t["ventilation"][m.ventilation]]
        lines += [f"- {md(e.text)} ({md(e.reference)})" for e in m.ventilation_evidence]
        if m.unread:
            lines += ["", t["unread"].format(why=md(m.unread))]
        lines += ["", t["whatToDocument"], "", t["whatCounts"]]
        extension = {extensions.MILESTONES: {
            "infusionDate": ev.infusion.isoformat(), "asOf": ev.today.isoformat(),
            "visits": [{"month": v.month, "due": v.due.isoformat(), "windowStart": v.window[0].isoformat(),
                        "windowEnd": v.window[1].isoformat(), "status": v.status,
                        "evidence": [a.reference for a in v.motor + v.developmental], "missing": list(v.missing)}
                       for v in m.visits],
            "ventilatorFreeSurvival": m.ventilation,
        }}
        # the documents these visits rest on (billing guide, DR.005.D), not the label the other cards cite
        source = dict(self.builder.source("clinical-reminder"), label=t["sourceLabel"])
        return prune({"uuid": self.builder.new_id(), "summary": summary_text(summary), "indicator": indicator,
                      "detail": "\n".join(lines), "source": source, "extension": extension})

    def _short(self, tests) -> str:
        return plain_list([self.t["shortLabels"][x] for x in tests])

    def summary(self, ev: MonitoringEvaluation, milestones: Milestones | None = None) -> dict:
        s = self.t["summary"]
        due = tuple(dict.fromkeys(i.test for i in ev.items if i.status == "due"))
        upcoming = [i for i in ev.items if i.status == "upcoming"]
        latest_done = {}
        for i in sorted(ev.items, key=lambda i: i.due):
            if i.status in ("done", "abnormal"):
                latest_done[i.test] = i.status
        abnormal = tuple(t for t, status in latest_done.items() if status == "abnormal")
        # A test a warning card flags (troponin-I risen against its baseline, or in a unit its range is not in) is
        # abnormal here too: never "on schedule" above it (review 2026-11-24g G11).
        abnormal = tuple(dict.fromkeys(abnormal + tuple(ALERT_TESTS[a.code] for a in ev.alerts
                                                        if a.code in ALERT_TESTS)))
        if ev.overdue_tests:
            late = sum(i.status == "overdue" for i in ev.items)  # draws, not tests: 2 missed weeks of LFT are 2
            summary, indicator = s["overdue"].format(day=ev.day, count=late, draws=s["draws"][late != 1],
                                                     tests=self._short(ev.overdue_tests)), "warning"
        elif due:
            summary, indicator = s["due"].format(day=ev.day, tests=self._short(due)), "info"
        elif abnormal:
            summary, indicator = s["abnormal"].format(day=ev.day, tests=self._short(abnormal)), "warning"
        else:
            nxt = min(upcoming, key=lambda i: i.due) if upcoming else None
            if nxt:
                summary = s["ok"].format(day=ev.day, next=f"{self.t['shortLabels'][nxt.test]} on {nxt.due.isoformat()}")
            else:  # nothing scheduled ahead, nothing due, overdue or abnormal
                summary = s["complete"].format(day=ev.day)
            overdue_visits = [v for v in milestones.visits if v.status == "overdue"] if milestones else []
            if overdue_visits:  # never "on schedule" beside an overdue milestone visit
                summary += s["milestoneOverdue"].format(months=_months(overdue_visits))
            indicator = "info"
        worst = min((a.severity for a in ev.alerts), key=SEVERITY_ORDER.__getitem__, default="info")
        if worst == "critical":  # name the alerts, most urgent first
            named = [self._alert_name(a) for a in ev.alerts if a.severity == "critical"]
            summary = s["critical"].format(day=ev.day, alerts=plain_list(list(dict.fromkeys(named))))
        if SEVERITY_ORDER[worst] < SEVERITY_ORDER[indicator]:
            indicator = worst  # the first card never looks calmer than the worst alert below it
        intro = s["detailIntro"].format(infusion=ev.infusion.isoformat(), reference=md(ev.infusion_evidence.reference),
                                        day=ev.day, today=ev.today.isoformat())
        if ev.infusion_evidence.reference.startswith("MedicationDispense/"):  # day 0 from a handed-over kit
            intro += " " + s["dayZeroFromDispense"].format(reference=md(ev.infusion_evidence.reference),
                                                           infusion=ev.infusion.isoformat())
        elif ev.infusion_evidence.reference.startswith("ServiceRequest/"):  # review 2026-11-24g G6
            intro += " " + s["dayZeroFromRequest"].format(reference=md(ev.infusion_evidence.reference),
                                                          infusion=ev.infusion.isoformat())
        lines = [intro,
                 "", "| Day | Date | Test | Status | Evidence |", "|---|---|---|---|---|"]
        labels = self.t["statusLabels"]
        for i in sorted(ev.items, key=lambda i: (i.due, i.test)):
            evidence = "; ".join(f"{md(e.text)} ({md(e.reference)})" for e in i.evidence)
            if i.missing:
                not_drawn = plain_list(i.missing, self.t["analyteLabels"])
                evidence = (evidence + "; " if evidence else "") + "not drawn: " + md(not_drawn)
            status = labels[i.status] + (self.t["lateSuffix"] if i.late else "") + \
                ("" if i.scheduled else self.t["unscheduledSuffix"])
            lines.append(f"| {i.day} | {i.due.isoformat()} | {self.t['testLabels'][i.test]} | "
                         f"**{status}** | {evidence} |")
        extension = {extensions.MONITORING: {
            "infusionDate": ev.infusion.isoformat(),
            "infusionEvidence": ev.infusion_evidence.reference,
            "asOf": ev.today.isoformat(),
            "day": ev.day,
            "items": [{"test": i.test, "day": i.day, "due": i.due.isoformat(), "status": i.status,
                       "evidence": [e.reference for e in i.evidence], "missing": list(i.missing),
                       "unscheduled": None if i.scheduled else True, "late": i.late or None}
                      for i in ev.items],
            "alerts": [{"code": a.code, "severity": a.severity, "evidence": [e.reference for e in a.evidence]}
                       for a in ev.alerts],
            "continuing": list(ev.continuing),
        }}
        return prune({"uuid": self.builder.new_id(), "summary": summary_text(summary), "indicator": indicator,
                      "detail": "\n".join(lines), "source": self.builder.source("clinical-reminder"),
                      "extension": extension})

    def _alert_name(self, alert) -> str:
        """A critical alert in a few words for the first card's summary ('possible acute liver injury ...')."""
        params = {k: plain(v) if isinstance(v, str) else v for k, v in alert.params.items()}
        if "which" in params:
            params["which"] = " and ".join(self.t["analyteLabels"].get(a, a) for a in params["which"].split(", "))
        return self.t["alertNames"][alert.code].format(**params)

    def with_overdue_orders(self, card: dict, ev: MonitoringEvaluation) -> dict:
        """The first card, with the overdue draws listed once above its table and one order for them."""
        o = self.t["overdue"]
        late = [i for i in ev.items if i.status == "overdue"]
        days: dict[str, list[str]] = {}  # each test named once, with its overdue draws
        for i in late:
            days.setdefault(i.test, []).append(f"day {i.day} ({i.due.isoformat()})")
        listing = "; ".join(f"{self.t['testLabels'][test]}: {plain_list(d)}" for test, d in days.items())
        resources = [r for test in ev.overdue_tests for r in self._orders_from_today(test, ev)]
        names = plain_list([self.t["shortLabels"][x] for x in ev.overdue_tests])
        why = " ".join(self.t["overdueWhy"][test] for test in ev.overdue_tests)
        return dict(card, detail=o["detail"].format(list=listing, why=why) + "\n\n" + card["detail"],
                    suggestions=[suggestion(o["suggestionLabel"].format(tests=names), resources, "monitoring",
                                            self.builder.new_id)],
                    selectionBehavior="any", overrideReasons=self.builder.override_reasons())

    def alert(self, ev: MonitoringEvaluation, alert) -> dict:
        text = self.t["alerts"][alert.code]
        if alert.code == "taper-needs-lft" and alert.params.get("steroid_record", "active") != "active":
            # no active corticosteroid order on record (or the orders were not all read): never "continue"
            text = self.t["alerts"]["taper-needs-lft-" + alert.params["steroid_record"]]
        if alert.code == "taper-wait-newer-result" and alert.params.get("pending_kind") == "unusable":
            # another patient's, unreadable, undated: it will never "become final" (review 2026-11-24g G11)
            text = self.t["alerts"]["taper-wait-newer-result-unusable"]
        # Each order once: overdue liver tests are ordered on the first card, not again on a steroid card.
        lft_ordered_above = alert.code in LFT_ORDERED_WITH and "lft" in ev.overdue_tests
        params = dict(alert.params, test_label=self.t["testLabels"].get(alert.params.get("test"), ""),
                      recent=LFT_RECENT_DAYS, order_note=self.t["orderedAboveNote"] if lft_ordered_above else "",
                      taper_note=self.t["taperDelayedNote"] if alert.params.get("taper_delayed") else "")
        if "course_end" in params:  # "ended 2026-...", or "ends" when still ahead
            params["course_ends"] = "ended" if params["course_end"] < ev.today.isoformat() else "ends"
        steroid = self.t["steroidRecord"]
        last = steroid["lastEnded"].format(date=params["steroid_ended"]) if params.get("steroid_ended") \
            else steroid["noneEver"]
        trusted = {"steroid_last": last,  # card wording and an ISO date: markdown as written, not escaped
                   "steroid_note": steroid[params.get("steroid_record", "active")].format(steroid_last=last)}
        if "why" in params:
            params["why"] = self.t["whyLabels"].get(params["why"], params["why"])
        if "which" in params:
            params["which"] = " and ".join(self.t["analyteLabels"].get(a, a) for a in params["which"].split(", "))
        detail = text["detail"].format(**md_params(params), **trusted)
        if params.get("taper_on_record") and alert.code != "taper-on-record":  # review 2026-11-24g G5
            detail += self.t["taperOnRecordNote"].format(**md_params({"taper_on_record": params["taper_on_record"]}))
        if alert.evidence:
            detail += "\n\n**Evidence:**\n" + "\n".join(self.builder.evidence_lines(alert.evidence))
        suggestions = [] if lft_ordered_above else self._alert_suggestions(ev, alert, text, params)
        summary = text["summary"].format(**{k: plain(v) if isinstance(v, str) else v for k, v in params.items()},
                                         **trusted)
        return prune({
            "uuid": self.builder.new_id(), "summary": summary_text(summary),
            "indicator": alert.severity, "detail": detail, "source": self.builder.source("clinical-reminder"),
            "suggestions": suggestions, "selectionBehavior": "any" if suggestions else None,
            "overrideReasons": self.builder.override_reasons() if alert.severity != "info" else None,
        })

    def _alert_suggestions(self, ev, alert, text, params) -> list[dict]:
        if alert.code == "taper-now":
            return [suggestion(text["suggestionLabel"].format(**params), [self._taper(params)], "taper",
                               self.builder.new_id)]
        if alert.code in ("continue-steroid", "taper-needs-lft"):
            resources = self._orders_from_today("lft", ev)
            return [suggestion(text["suggestionLabel"].format(**params), resources, "monitoring",
                               self.builder.new_id)]
        return []

    def _orders_from_today(self, test: str, ev: MonitoringEvaluation) -> list[dict]:
        """The orders of one monitoring test, from today, with that test's label source as the reason."""
        start, reason = {"start": ev.today.isoformat()}, self.t["orderReason"][test]
        return [service_request(self.orders, t, self.patient_ref, reason, occurrence_period=start)
                for t in ORDER_TESTS[test]]

    def _taper(self, params: dict) -> dict:
        taper = self.t["taper"]
        return {
            "resourceType": "MedicationRequest", "status": "draft", "intent": "order",
            "subject": {"reference": self.patient_ref},
            "medicationCodeableConcept": {"coding": [PREDNISOLONE.coding()], "text": taper["medicationText"]},
            "reasonCode": [{"text": "Zolgensma corticosteroid taper (FDA label 2.1)"}],
            "dosageInstruction": [{
                "text": taper["dosageText"].format(**params),
                "timing": {"repeat": {"boundsPeriod": {"start": params["taper_start"], "end": params["taper_end"]}}},
                "route": {"text": "oral"},
            }],
        }



def _months(visits) -> str:
    return " and ".join(f"month-{v.month}" for v in visits)
