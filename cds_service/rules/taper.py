"""The corticosteroid course after the infusion (FDA label 2.1; clinical-facts 1.6, 5.2): the taper decision at
the end of the 30 days, the course on record, and what to say when it stopped early or a taper is already open.
A mixin of rules/monitoring.py's evaluation context (it reads the context's record and dates). Pure."""

from __future__ import annotations

from datetime import date, timedelta

from ..facts import Evidence, Measurement, Unread
from .monitoring_terms import (
    _NAMES,
    LFT_RECENT_DAYS,
    STEROID_COURSE_END_DAY,
    STEROID_GIVEN_RECENT_DAYS,
    TAPER_DAYS,
    TAPER_DECISION_LAST_DAY,
    WINDOW_DAYS,
    Alert,
    _holds,
    _period,
)
from .treatment import current_steroid_plans, open_steroid_orders


class SteroidCourse:
    def steroid_alerts(self, day: int, state: str, waiting: tuple[Unread, ...] = ()) -> list[Alert]:
        lft = self.latest_lft()
        evidence = tuple(m.evidence for m in lft.values() if m)
        no_uln = ", ".join(_NAMES[a] for a, m in lft.items() if m and m.ref_high is None)
        alerts = []
        high = [a for a in ("alt", "ast") if lft[a] and lft[a].ref_high is not None
                and _holds(lft[a], ">=", 2 * lft[a].ref_high)]
        if day >= STEROID_COURSE_END_DAY and high and lft[high[0]].when >= self.day0 + timedelta(
                days=STEROID_COURSE_END_DAY):
            return alerts + [Alert("alt-ast-2x-after-course", "critical", evidence, {"which": ", ".join(high)})]
        if high:
            alerts.append(Alert("alt-ast-2x", "warning", evidence, {"which": ", ".join(high)}))
        if day < STEROID_COURSE_END_DAY or day > TAPER_DECISION_LAST_DAY:
            return alerts
        end = self.day0 + timedelta(days=STEROID_COURSE_END_DAY)
        not_usable = self.end_of_course_gaps(lft, end)
        # The taper starts the day after the course, but never before today (an order is not dated in the
        # past; 1 mg/kg/day continues until then, label 2.1) nor before the liver tests that allow it; it
        # then runs the full 28 days (day 1 to day 28 inclusive).
        lft_date = max((m.when for m in lft.values() if m), default=end)
        start = max(end + timedelta(days=1), self.today, lft_date)
        params = {"course_end": end.isoformat(), "taper_start": start.isoformat(),
                  "taper_end": (start + timedelta(days=TAPER_DAYS - 1)).isoformat(), "no_uln": no_uln,
                  "taper_delayed": start > end + timedelta(days=1)}
        params.update(self.steroid_record())
        course = self.steroid_course(end)
        if course["tapers"]:  # named on every taper-family card: never a second taper, never silently beside one
            params["taper_on_record"] = course["tapers"]
        params.update(end_of_course_from=(end - timedelta(days=WINDOW_DAYS)).isoformat(),
                      not_usable="; ".join(not_usable))
        if state == "newer-result-pending":
            pending = "; ".join(f"{u.reference} ({u.reason})" for u in waiting)
            alerts.append(Alert("taper-wait-newer-result", "warning", evidence + self.steroid_evidence(),
                                dict(params, pending=pending,
                                     pending_kind="not-final" if all(u.not_final for u in waiting) else "unusable")))
        elif state == "no-results" or not_usable:
            alerts.append(Alert("taper-needs-lft", "warning", evidence + self.steroid_evidence(), params))
        elif state == "uln-unknown":
            alerts.append(Alert("taper-uln-unknown", "warning", evidence, params))
        elif state == "bound-unsettled":  # "<100" with ULN 45 may be >= 2 x ULN: no taper on a bound (B3)
            bounded = ", ".join(f"{_NAMES[m.analyte]} {m.comparator}{m.value:g}" for m in lft.values()
                                if m.comparator != "=")
            alerts.append(Alert("taper-bound-unsettled", "warning", evidence, {**params, "bounded": bounded}))
        elif state == "unremarkable":
            alerts.append(self.taper_alert(end, evidence, params, course))
        elif not high:
            alerts.append(Alert("continue-steroid", "warning", evidence + self.steroid_evidence(), params))
        return alerts

    def end_of_course_gaps(self, lft: dict[str, Measurement | None], end: date) -> list[str]:
        """Why the liver tests on record are not the end-of-course check a taper may rest on (empty: they are).
        FDA label 2.1: "at the end of the 30-day period of corticosteroid treatment, check liver function by
        clinical exam and by laboratory testing" (ALT, AST, total bilirubin, PT), and taper only when it is
        unremarkable; clinical-facts 5.2: the LFT "on about day 28", each draw +/- 2 days. So each of ALT, AST,
        total bilirubin and PT/INR must be drawn from day 26 (WINDOW_DAYS before the course end) on, within the
        last LFT_RECENT_DAYS, and the lab results read completely: a draw during the course (day 21, under full-dose
        steroid) is not that check, even when it is the latest one left (review 2026-11-24g G3)."""
        since = end - timedelta(days=WINDOW_DAYS)
        gaps = []
        for analyte, m in lft.items():
            name = "PT/INR" if analyte == "pt" else _NAMES[analyte]
            if m is None:
                gaps.append(f"{name}: none since the infusion")
            elif m.when < since:
                gaps.append(f"{name}: latest {m.when.isoformat()} (day {(m.when - self.day0).days}), drawn during "
                            "the course")
            elif (self.today - m.when).days > LFT_RECENT_DAYS:
                gaps.append(f"{name}: latest {m.when.isoformat()} (day {(m.when - self.day0).days}), more than "
                            f"{LFT_RECENT_DAYS} days ago")
        if "labs" not in self.facts.sources_read:
            gaps.append("the lab results could not be read")
        gaps += [f"lab results not read completely: {gap}" for gap in self.facts.source_gaps.get("labs", ())]
        return gaps

    def steroid_course(self, end: date) -> dict:
        """The corticosteroid course as recorded, for the taper decision (review 2026-11-24g G5). `state`:
        "taper" (an open corticosteroid order that is a taper: named so, or starting from day 26, WINDOW_DAYS
        before the course end: an order written for after the course), "running" (an open course order, or a
        corticosteroid given today or yesterday), "unread" (the medication orders not all read), "stopped" (orders
        or administrations on record, none open or recent: `last` is the latest end or administration date, ""
        when none is stated), or "none" (nothing on record, read completely). `tapers`: the taper orders named."""
        facts, today = self.facts, self.today
        since = end - timedelta(days=WINDOW_DAYS)
        tapers = [o for o in open_steroid_orders(facts, today)
                  if "taper" in o.text.lower() or (o.start is not None and o.start >= since)]
        named = "; ".join(f"{o.reference} ({o.text}, {_period(o)})" for o in tapers)
        evidence = tuple(o.evidence for o in tapers)
        if tapers:
            return {"state": "taper", "tapers": named, "evidence": evidence}
        recent = today - timedelta(days=STEROID_GIVEN_RECENT_DAYS)
        given = [a for a in facts.steroid_administrations if a.when is not None and a.when <= today]
        if current_steroid_plans(facts, today) or any(a.when >= recent for a in given):
            return {"state": "running", "tapers": "", "evidence": ()}
        if self.steroid_record()["steroid_record"] == "unread":
            return {"state": "unread", "tapers": "", "evidence": ()}
        orders = [o for o in facts.steroid_orders if o.status != "entered-in-error"]
        if not orders and not given:
            return {"state": "none", "tapers": "", "evidence": ()}
        dates = [o.end for o in orders if o.end] + [a.when for a in given]
        last = max(dates) if dates else None
        return {"state": "stopped", "tapers": "", "last": last,
                "evidence": tuple(o.evidence for o in orders) + tuple(a.evidence for a in given)}

    def taper_alert(self, end: date, evidence: tuple[Evidence, ...], params: dict, course: dict) -> Alert:
        """Unremarkable end-of-course liver tests: the taper, suggested only from a course on record that runs
        (label 2.1: taper from 1 mg/kg/day). A taper already ordered is named, never ordered twice; a course that
        stopped (before day 26: it did not run to day 28) is said so, with no taper from a dose not being given;
        orders not all read: no taper order, it may duplicate one unseen. Nothing on record at all: the taper as
        before (the course may be recorded elsewhere; the card asks to confirm the exam, the order to set steps)."""
        state = course["state"]
        if state == "taper":
            return Alert("taper-on-record", "info", evidence + course["evidence"], params)
        if state == "unread":
            return Alert("taper-orders-unread", "warning", evidence + self.steroid_evidence(), params)
        if state == "stopped":
            last = course["last"]
            early = last is None or last < end - timedelta(days=WINDOW_DAYS)
            stated = {"stopped": last.isoformat() if last else "on a date not stated",
                      "stopped_day": f"day {(last - self.day0).days}" if last else "day unknown"}
            return Alert("steroid-stopped-early" if early else "steroid-ended", "warning",
                         evidence + course["evidence"], dict(params, **stated))
        return Alert("taper-now", "info", evidence, params)

    def steroid_record(self) -> dict:
        """Is a corticosteroid order active today? `steroid_record`: "active"; "none" only when the medication
        orders were read completely with no unreadable entry that could have been one (then `steroid_ended`: the
        last end date on record, or ""); otherwise "unread". Administrations of the steroid are not read."""
        facts = self.facts
        if current_steroid_plans(facts, self.today):
            return {"steroid_record": "active"}
        source = "medication-requests"
        if source not in facts.sources_read or facts.source_gaps.get(source) or any(
                u.source == source and u.kind in ("corticosteroid", None) for u in facts.unread):
            return {"steroid_record": "unread"}
        ended = [o.end for o in facts.steroid_orders if o.end and o.status != "entered-in-error"]
        return {"steroid_record": "none", "steroid_ended": max(ended).isoformat() if ended else ""}

    def steroid_course_alert(self, day: int) -> Alert | None:
        """Days 0 to 27 (the course runs day -1 to day 28, FDA label 2.1; from day 28 the taper cards speak): a
        warning when no corticosteroid order is active and none was given today or yesterday (review 2026-11-24d
        S5). "None on record" only when the medication orders and administrations were read completely; else
        "not all read". No dose is suggested: that needs a current weight, which this service does not read."""
        facts = self.facts
        if not 0 <= day < STEROID_COURSE_END_DAY:
            return None
        since = max(self.today - timedelta(days=STEROID_GIVEN_RECENT_DAYS), self.day0 - timedelta(days=1))
        if any(since <= a.when <= self.today for a in facts.steroid_administrations):
            return None
        record = self.steroid_record()
        if record["steroid_record"] == "active":
            return None
        source = "medication-administrations"
        unread = [f"{s} could not be read" for s in ("medication-requests", source) if s not in facts.sources_read]
        unread += [f"{s}: {gap}" for s in ("medication-requests", source) for gap in facts.source_gaps.get(s, ())]
        unread += [f"{u.reference}: {u.reason}" for u in facts.unread
                   if u.source in ("medication-requests", source) and u.kind in ("corticosteroid", None)]
        state = "unread" if unread or record["steroid_record"] == "unread" else "none"
        evidence = self.steroid_evidence() + tuple(a.evidence for a in facts.steroid_administrations)
        return Alert(f"steroid-course-{state}", "warning", evidence,
                     dict(record, day=day, course_end=(self.day0 + timedelta(days=STEROID_COURSE_END_DAY)).isoformat(),
                          unread="; ".join(dict.fromkeys(unread)) or "the corticosteroid orders"))

    def steroid_evidence(self) -> tuple[Evidence, ...]:
        return tuple(o.evidence for o in self.facts.steroid_orders if o.status != "entered-in-error")

    # Blood and heart ---------------------------------------------------------------------------------
