"""After the infusion: the label's monitoring schedule and the corticosteroid course (pure).

Sources (clinical-facts.md 1.5, 1.6, 1.7, 5.2; DR.005.D "Monitoring"; FDA label 2.1, boxed warning, W&P):
- LFT (AST, ALT, total bilirubin, PT) weekly in month 1, then every other week in months 2-3 (boxed warning
  and Warnings and Precautions 5.1, acute serious liver injury); platelets on the same schedule and troponin-I
  weekly in month 1, then monthly (Warnings and Precautions: thrombocytopenia / TMA, elevated troponin-I).
  Day 0 = infusion; "month" = 4 weeks.
- A draw counts from 2 days before its due date (clinical-facts 5.2: +/- 2 days); up to 2 days after it is on
  time, later it is "done late" and still satisfies that draw (it stays "due" to day +3 and is "overdue" after,
  clinical-facts 5.2 "overdue by more than 3 days"). A late draw fills the open draw whose period it falls in
  (from 2 days before that draw's due date to 2 days before the next one's); open draws before a filled one can
  no longer be made up: "missed" (shown, no reminder, no order).
- LFT continue past 3 months until unremarkable (ALT and AST < 2 x ULN, normal bilirubin and PT);
  platelets and troponin-I until back to baseline.
- Steroid: 30 days from day -1 (to day 28). Then: unremarkable LFT -> taper over 28 days; abnormal ->
  continue 1 mg/kg/day and re-check; ALT/AST >= 2 x ULN persisting after the course -> consult pediatric
  gastroenterology/hepatology promptly (do not taper).
- Thrombocytopenia / TMA: low platelets (with rising creatinine: TMA) -> hematology / nephrology.
- ULN is each result's own reference range; when a result has none, that is said, never guessed.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..facts import Evidence, Measurement, PatientFacts, Unread
from ..quantities import add_years
from .context import coagulation_readings
from .monitoring_terms import (
    CREATININE_RISE_FRACTION,
    INJURY_BILIRUBIN_X_ULN,
    INJURY_INR,
    INJURY_PT_SECONDS,
    INJURY_TRANSAMINASE_X_ULN,
    LFT_ANALYTES,
    LFT_DAYS,
    LIVER_KINDS,
    OVERDUE_AFTER_DAYS,
    PLATELET_DAYS,
    PLATELET_FALL_FRACTION,
    PLATELETS_BACK_FRACTION,
    SEVERITY_ORDER,
    TROPONIN_BACK_FRACTION,
    TROPONIN_DAYS,
    TROPONIN_RISE_FRACTION,
    UNSCHEDULED_TESTS,
    WINDOW_DAYS,
    Alert,
    MonitoringEvaluation,
    ScheduleItem,
    _above_uln,
    _brief,
    _holds,
    _times_uln,
)
from .taper import SteroidCourse


def infusion_date(facts: PatientFacts) -> tuple[date, Evidence] | None:
    """Day 0: the latest dated record of the infusion (administration, procedure, completed order). A dispense is
    dated when the kit was handed over, not when it was infused: it sets day 0 only when no other dose record is
    dated (review 2026-11-24e: a dispense may be the only record of a dose; the card then says so)."""
    dated = [d for d in facts.prior_doses if d.when is not None]
    dated = [d for d in dated if not is_dispense(d)] or dated
    if not dated:
        return None
    latest = max(dated, key=lambda d: d.when)
    return latest.when, latest.evidence


def is_dispense(dose) -> bool:
    return dose.reference.startswith("MedicationDispense/")


def several_dose_records(facts: PatientFacts, day0: date, used: Evidence) -> Alert | None:
    """Zolgensma is a single dose (FDA label 2.1): more than one record of it being given is a duplicate entry or
    a second dose, to confirm, never silently passed over (review 2026-11-24d S4). The schedule keeps day 0 from
    the latest dated record (infusion_date; the card says which), so the steroid course and the draws never end
    early. Completed orders are left out: an order is dated when written or planned, not when given; so are
    dispenses beside a record of the infusion (a kit is handed over the day before or on the day). One
    administration and one Procedure (or statement) on the same day are one infusion recorded twice over."""
    given = [d for d in facts.prior_doses if not d.reference.startswith(("MedicationRequest/", "ServiceRequest/"))]
    given = [d for d in given if not is_dispense(d)] or given
    kinds = [d.reference.split("/")[0] for d in given]
    dates = {d.when for d in given}
    if len(given) < 2 or (len(dates) == 1 and None not in dates and len(set(kinds)) == len(kinds)):
        return None
    return Alert("several-dose-records", "warning", tuple(d.evidence for d in given),
                 {"count": len(given), "day0": day0.isoformat(), "day0_reference": used.reference})


# Where a Zolgensma infusion (day 0) can be recorded.
# A dispense (the kit handed over) may be the only record of a dose (review 2026-11-24e T1): day 0 from its date
# when nothing else dates the infusion.
# A completed infusion ServiceRequest coded J3399 / a kit NDC is a prior dose at order time (review 2026-11-24e T2):
# it dates day 0 here too (review 2026-11-24g G6); one named only in text is a possible dose: no schedule, a notice.
INFUSION_SOURCES = ("medication-administrations", "procedures", "medication-requests", "medication-dispenses",
                    "service-requests")


def why_no_day_zero(facts: PatientFacts) -> list[str]:
    """When no day 0 was found: what on record might have set it but could not be used (empty: nothing)."""
    why = [f"{d.reference} ({d.text}) has no readable date" for d in facts.prior_doses if d.when is None]
    # Named only in text (a gene-therapy infusion request or procedure, Itvisma): a possible dose, never a schedule
    # (free text decides nothing) but never silence either: confirm day 0 (review 2026-11-24g G6).
    why += [f"{d.reference} ({d.text}{', ' + d.when.isoformat() if d.when else ''}) may record a Zolgensma "
            "infusion: confirm it and record the administration to start the schedule"
            for d in facts.possible_prior_doses]
    why += [f"{u.reference}: {u.reason}" for u in facts.unread
            if u.kind == "zolgensma" or u.kind is None and u.source in INFUSION_SOURCES]
    why += [f"{s} could not be read" for s in INFUSION_SOURCES if s not in facts.sources_read]
    why += [f"{s}: {gap}" for s in INFUSION_SOURCES for gap in facts.source_gaps.get(s, ())]
    return why


# Whom the monitoring may concern, read in steps (hooks.MonitoringHandler: a patient-view service runs on every
# chart open). Zolgensma is for children under 2 (FDA label, Indications; off-label older children are possible
# after a Medical Director's review, DR.005.D) and the milestones run to 60 months after day 0, so an adult's
# chart holds nothing this service follows. 18 years: our choice, with a wide margin.
ADULT_AGE_YEARS = 18


def may_concern_by_age(facts: PatientFacts, today: date) -> bool:
    """Step 1, the Patient: not an adult today. No readable birth date (or no Patient read): cannot say, so yes."""
    return facts.birth_date is None or today < add_years(facts.birth_date, ADULT_AGE_YEARS)


def nothing_to_monitor(facts: PatientFacts) -> bool:
    """Step 2, the sources day 0 is found in (INFUSION_SOURCES): no Zolgensma dose on record, dated or not, and
    nothing there that might be one and could not be used: each source read completely, no record unreadable or
    unidentified (why_no_day_zero is empty). Then evaluate_monitoring would find no day 0 and say nothing."""
    return not facts.prior_doses and not why_no_day_zero(facts)


def evaluate_monitoring(facts: PatientFacts, today: date) -> MonitoringEvaluation | None:
    found = infusion_date(facts)
    if found is None:
        return None
    day0, evidence = found
    day = (today - day0).days
    ctx = _Ctx(facts, day0, today)
    alerts: list[Alert] = []
    continuing = []
    lft_days, plt_days, trop_days = list(LFT_DAYS), list(PLATELET_DAYS), list(TROPONIN_DAYS)

    lft_state = ctx.lft_state(ctx.latest_lft())
    waiting = ctx.liver_not_in()
    if lft_state == "unremarkable" and waiting:
        # "Unremarkable" rests on the latest final results; a newer one still on its way (or unreadable) may say
        # otherwise: no taper, no end of liver monitoring until it is in (FDA label 2.1; review 2026-11-24b P1).
        lft_state = "newer-result-pending"
    if day > LFT_DAYS[-1] and lft_state != "unremarkable":
        continuing.append("lft")
        lft_days += _extend(LFT_DAYS[-1], 14, day)
    plt_back = ctx.back_to_baseline("platelets")
    if day > PLATELET_DAYS[-1] and plt_back is not True:
        continuing.append("platelets")
        plt_days += _extend(PLATELET_DAYS[-1], 14, day)
    trop_back = ctx.back_to_baseline("troponin-i")
    if day > TROPONIN_DAYS[-1] and trop_back is not True:
        continuing.append("troponin-i")
        trop_days += _extend(TROPONIN_DAYS[-1], 28, day)

    items = ctx.schedule("lft", lft_days) + ctx.schedule("platelets", plt_days) + \
        ctx.schedule("troponin-i", trop_days)
    items += ctx.unscheduled(items)
    for test in continuing:
        why = {"lft": lft_state, "platelets": _back_text(plt_back), "troponin-i": _back_text(trop_back)}[test]
        alerts.append(Alert("continue-past-month-3", "info", params={"test": test, "why": why}))

    injury = ctx.liver_injury_alert()
    steroid = ctx.steroid_alerts(day, lft_state, waiting)
    bili_pt = ctx.bilirubin_pt_alert()
    if injury:  # the same liver, more urgent: the 2 x ULN cards would only repeat "consult"
        steroid = [a for a in steroid if a.code not in ("alt-ast-2x", "alt-ast-2x-after-course")]
        alerts.append(injury)
    elif bili_pt and not any(a.code == "continue-steroid" for a in steroid):  # that card already says it
        alerts.append(bili_pt)
    alerts += steroid
    alerts += ctx.hematology_alerts()
    alerts += [a for a in [several_dose_records(facts, day0, evidence), ctx.steroid_course_alert(day)] if a]
    alerts.sort(key=lambda a: SEVERITY_ORDER[a.severity])  # worst first (stable otherwise)
    overdue = tuple(dict.fromkeys(i.test for i in items if i.status == "overdue"))
    return MonitoringEvaluation(day0, evidence, today, day, tuple(items), tuple(alerts), tuple(continuing), overdue)


def _extend(last_day: int, step: int, today_day: int) -> list[int]:
    days, d = [], last_day + step
    while d <= today_day + step:
        days.append(d)
        d += step
    return days


def _back_text(back: bool | None) -> str:
    return "baseline unknown" if back is None else "not yet back to baseline"


class _Ctx(SteroidCourse):
    """One evaluation's view of the record after day 0 (the steroid course's checks: rules/taper.py)."""

    def __init__(self, facts: PatientFacts, day0: date, today: date):
        self.facts, self.day0, self.today = facts, day0, today
        self.post = [m for m in facts.measurements if m.when and day0 < m.when <= today]

    def baseline(self, analyte: str) -> Measurement | None:
        return self.facts.latest(analyte, on_or_before=self.day0)

    def latest(self, analyte: str) -> Measurement | None:
        return self.facts.latest(analyte, on_or_before=self.today, after=self.day0)

    # The schedule ------------------------------------------------------------------------------
    def schedule(self, test: str, days: list[int]) -> list[ScheduleItem]:
        analytes = LFT_ANALYTES if test == "lft" else (test,)
        assigned = {a: self._assign(a, days) for a in analytes}
        inr: dict[int, Measurement] = {}
        if "pt" in assigned:  # PT or INR
            inr = self._assign("inr", days)
            assigned["pt"] = {d: assigned["pt"].get(d) or inr.get(d) for d in days}
        complete = [d for d in days if all(assigned[a].get(d) for a in analytes)]
        items = []
        for d in days:
            due = self.day0 + timedelta(days=d)
            drawn = [assigned[a][d] for a in analytes if assigned[a].get(d)]
            if inr.get(d) is not None and all(m is not inr[d] for m in drawn):  # an INR beside the PT counts too (R2)
                drawn.append(inr[d])
            missing = tuple(a for a in analytes if not assigned[a].get(d))
            if not missing:
                status = "abnormal" if any(self.abnormal(m) for m in drawn) else "done"
                late = any(m.when > due + timedelta(days=WINDOW_DAYS) for m in drawn)
                items.append(ScheduleItem(test, d, due, status, tuple(m.evidence for m in drawn), late=late))
                continue
            if any(later > d for later in complete):
                status = "missed"  # a later draw of this test is complete: this one can no longer be made up
            elif self.today < due - timedelta(days=WINDOW_DAYS):
                status = "upcoming"
            elif self.today <= due + timedelta(days=OVERDUE_AFTER_DAYS):
                status = "due"
            else:
                status = "overdue"
            items.append(ScheduleItem(test, d, due, status, tuple(m.evidence for m in drawn), missing))
        return items

    def _assign(self, analyte: str, days: list[int]) -> dict[int, Measurement]:
        """Scheduled day -> the result that fills it: the nearest within +/- WINDOW_DAYS (on time), else the
        first later one in that draw's period (up to WINDOW_DAYS before the next draw's due date: late)."""
        draws = sorted((m for m in self.post if m.analyte == analyte), key=lambda m: m.when)
        used: set[str] = set()
        out: dict[int, Measurement] = {}
        for d in days:
            due = self.day0 + timedelta(days=d)
            on_time = [m for m in draws if m.reference not in used and abs((m.when - due).days) <= WINDOW_DAYS]
            if on_time:
                out[d] = min(on_time, key=lambda m: abs((m.when - due).days))
                used.add(out[d].reference)
        for n, d in enumerate(days):
            if d in out:
                continue
            after = self.day0 + timedelta(days=d + WINDOW_DAYS)
            until = self.day0 + timedelta(days=days[n + 1] - WINDOW_DAYS) if n + 1 < len(days) else date.max
            late = [m for m in draws if m.reference not in used and after < m.when < until]
            if late:
                out[d] = late[0]
                used.add(late[0].reference)
        return out

    def unscheduled(self, items: list[ScheduleItem]) -> list[ScheduleItem]:
        """Post-infusion results no scheduled draw used, one row per test and date (done or abnormal)."""
        used = {e.reference for i in items for e in i.evidence}
        rows: dict[tuple[str, date], list[Measurement]] = {}
        for m in self.post:
            test = UNSCHEDULED_TESTS.get(m.analyte)
            if test and m.reference not in used:
                rows.setdefault((test, m.when), []).append(m)
        return [ScheduleItem(test, (when - self.day0).days, when,
                             "abnormal" if any(self.abnormal(m) for m in found) else "done",
                             tuple(m.evidence for m in found), scheduled=False)
                for (test, when), found in sorted(rows.items(), key=lambda r: (r[0][1], r[0][0]))]

    def abnormal(self, m: Measurement) -> bool:
        """Abnormal, or a bound that does not exclude it (a result "<200" may be below the lower limit 150)."""
        if m.analyte in ("alt", "ast"):
            return m.ref_high is not None and _holds(m, ">=", 2 * m.ref_high) is not False
        if m.analyte in ("bilirubin", "pt", "inr", "troponin-i"):
            return m.ref_high is not None and _holds(m, ">", m.ref_high) is not False
        if m.analyte == "platelets":
            return m.ref_low is not None and _holds(m, "<", m.ref_low) is not False
        return False

    # Liver ---------------------------------------------------------------------------------------
    def latest_lft(self) -> dict[str, Measurement | None]:
        """The latest ALT, AST and total bilirubin, and the current PT and INR (both when both are current:
        context.coagulation_readings; review 2026-11-24c R2), keyed by analyte; "pt": None when neither exists."""
        out = {a: self.latest(a) for a in ("alt", "ast", "bilirubin")}
        coags = coagulation_readings(self.latest("pt"), self.latest("inr"))
        out.update({m.analyte: m for m in coags} if coags else {"pt": None})
        return out

    def liver_not_in(self) -> tuple[Unread, ...]:
        """Liver results after day 0 that are not evidence but may be newer than the result used: not final yet
        (preliminary, registered; clinical-facts 5) or not readable with a full date. Each may hold the abnormal
        value that forbids a taper (FDA label 2.1), so the taper waits for it."""
        waiting = []
        for u in self.facts.unread:
            if u.kind not in LIVER_KINDS or u.when is not None and u.when <= self.day0:
                continue
            used = self.latest(u.kind)
            if u.when is not None and used is not None and used.when > u.when:
                continue  # a final result of that test is newer: this one could not have decided
            waiting.append(u)
        return tuple(waiting)

    def lft_state(self, lft: dict[str, Measurement | None]) -> str:
        """'unremarkable', 'abnormal', 'alt-ast-2x' (ALT or AST >= 2 x ULN), 'uln-unknown', 'bound-unsettled'
        (a result reported as a bound, "<100", that allows values on both sides of its limit) or 'no-results' (and,
        in evaluate_monitoring, 'newer-result-pending' for an unremarkable state a newer result still on its way
        may overturn)."""
        if any(m is None for m in lft.values()):
            return "no-results"
        if any(m.ref_high is None for m in lft.values()):
            return "uln-unknown"
        high = [_holds(lft[a], ">=", 2 * lft[a].ref_high) for a in ("alt", "ast")]
        above = [_holds(m, ">", m.ref_high) for a, m in lft.items() if a in ("bilirubin", "pt", "inr")]
        if any(high):
            return "alt-ast-2x"
        if any(above):
            return "abnormal"
        if None in high + above:
            return "bound-unsettled"
        return "unremarkable"

    def liver_injury_alert(self) -> Alert | None:
        """Transaminase elevation with jaundice or coagulopathy, at any day: critical (thresholds above)."""
        lft = self.latest_lft()
        inr, pt = self.latest("inr"), self.latest("pt")
        high = [lft[a] for a in ("alt", "ast") if lft[a] and lft[a].ref_high is not None
                and _holds(lft[a], ">=", INJURY_TRANSAMINASE_X_ULN * lft[a].ref_high)]
        if not high:
            return None
        bili = lft["bilirubin"]
        signs = []
        if bili and bili.ref_high is not None and _holds(bili, ">", INJURY_BILIRUBIN_X_ULN * bili.ref_high):
            signs.append(bili)
        if inr and inr.value >= INJURY_INR:
            signs.append(inr)
        if pt and pt.value >= INJURY_PT_SECONDS:
            signs.append(pt)
        if not signs:
            return None
        found = ", ".join(_times_uln(m) for m in high + signs)
        return Alert("acute-liver-injury", "critical", tuple(m.evidence for m in high + signs),
                     {"found": found, "brief": ", ".join(_brief(m) for m in high + signs),
                      "transaminase_x": f"{INJURY_TRANSAMINASE_X_ULN:g}",
                      "bilirubin_x": f"{INJURY_BILIRUBIN_X_ULN:g}", "inr": f"{INJURY_INR:g}",
                      "pt": f"{INJURY_PT_SECONDS:g}"})

    def bilirubin_pt_alert(self) -> Alert | None:
        """Latest total bilirubin, PT or INR above its own ULN, at any day: warning (clinical-facts 5.2).
        A result without a reference range raises nothing here (no ULN is guessed; the taper card says so)."""
        # The same bilirubin, PT and INR as the taper decision reads (latest_lft): the cards never disagree (R2).
        above = [m for a, m in self.latest_lft().items() if a in ("bilirubin", "pt", "inr")
                 and m is not None and m.ref_high is not None and _holds(m, ">", m.ref_high)]
        if not above:
            return None
        return Alert("bilirubin-pt-above-uln", "warning", tuple(m.evidence for m in above),
                     {"found": ", ".join(_above_uln(m) for m in above)})

    def back_to_baseline(self, analyte: str) -> bool | None:
        base, last = self.baseline(analyte), self.latest(analyte)
        if last is None:
            return False
        if analyte == "troponin-i" and last.ref_high is not None and _holds(last, "<=", last.ref_high):
            return True
        if base is None:
            return None
        if analyte == "platelets":
            return last.value >= PLATELETS_BACK_FRACTION * base.value
        return last.value <= TROPONIN_BACK_FRACTION * base.value

    def hematology_alerts(self) -> list[Alert]:
        alerts = []
        plt, plt0 = self.latest("platelets"), self.baseline("platelets")
        fall = plt is not None and (
            (plt.ref_low is not None and _holds(plt, "<", plt.ref_low) is not False)
            or (plt.ref_low is None and plt0 is not None and plt.value < PLATELET_FALL_FRACTION * plt0.value))
        cr, cr0 = self.latest("creatinine"), self.baseline("creatinine")
        rising = cr is not None and ((cr.ref_high is not None and cr.value > cr.ref_high)
                                     or (cr0 is not None and cr.value >= CREATININE_RISE_FRACTION * cr0.value))
        if fall and rising:
            ev = tuple(m.evidence for m in (plt, plt0, cr, cr0) if m)
            alerts.append(Alert("tma-signs", "critical", ev))
        elif fall:
            ev = tuple(m.evidence for m in (plt, plt0) if m)
            alerts.append(Alert("platelet-fall", "critical", ev))
        trop, trop0 = self.latest("troponin-i"), self.baseline("troponin-i")
        if trop is not None and ((trop.ref_high is not None and _holds(trop, ">", trop.ref_high) is not False)
                                 or (trop0 is not None and trop.value > TROPONIN_RISE_FRACTION * trop0.value)):
            alerts.append(Alert("troponin-rise", "warning", tuple(m.evidence for m in (trop, trop0) if m)))
        return alerts
