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

from dataclasses import dataclass, field
from datetime import date, timedelta

from ..facts import Evidence, Measurement, PatientFacts, Unread
from ..quantities import add_years, bound_holds
from .context import coagulation_readings
from .treatment import current_steroid_plans, open_steroid_orders

LFT_DAYS = (7, 14, 21, 28, 42, 56, 70, 84)
PLATELET_DAYS = (7, 14, 21, 28, 42, 56, 70, 84)
TROPONIN_DAYS = (7, 14, 21, 28, 56, 84)
LFT_ANALYTES = ("alt", "ast", "bilirubin", "pt")
LIVER_KINDS = frozenset(LFT_ANALYTES) | {"inr"}
WINDOW_DAYS = 2  # clinical-facts 5.2: allow +/- 2 days per draw (later: done late)
OVERDUE_AFTER_DAYS = 3  # clinical-facts 5.2: overdue by more than 3 days -> warning
STEROID_COURSE_END_DAY = 28  # day -1 through day 28 = 30 doses (label 2.1)
TAPER_DAYS = 28
# A corticosteroid given today or yesterday shows the daily course runs (label 2.1: once daily); our choice.
STEROID_GIVEN_RECENT_DAYS = 1
TAPER_DECISION_LAST_DAY = 60  # after this the taper decision is past; no taper card
LFT_RECENT_DAYS = 10  # an LFT this recent (or newer) may decide the taper
# "Back to baseline" is not defined numerically by the label; project choice, shown on the card:
PLATELETS_BACK_FRACTION = 0.9  # latest >= 90 % of the pre-infusion count
TROPONIN_BACK_FRACTION = 1.1  # latest <= 110 % of the pre-infusion value (or within the reference range)
PLATELET_FALL_FRACTION = 0.5  # below half the baseline counts as a fall when the lab gives no lower limit
CREATININE_RISE_FRACTION = 1.5  # 1.5 x baseline counts as rising (or above the reference range)
TROPONIN_RISE_FRACTION = 2.0
# Acute liver injury at any day after infusion (FDA label boxed warning and section 5.1: "if acute serious liver
# injury or acute liver failure is suspected, promptly consult a pediatric gastroenterologist or hepatologist").
# The label gives no numbers; these are the named sources' (stated on the card):
# - Hy's law, FDA Guidance for Industry "Drug-Induced Liver Injury: Premarketing Clinical Evaluation" (2009):
#   ALT or AST >= 3 x ULN with total bilirubin > 2 x ULN (jaundice).
INJURY_TRANSAMINASE_X_ULN = 3.0
INJURY_BILIRUBIN_X_ULN = 2.0
# - Coagulopathy: Pediatric Acute Liver Failure Study Group entry criteria (Squires et al., J Pediatr 2006):
#   INR >= 1.5 (~ PT >= 15 s) with encephalopathy, INR >= 2.0 (~ PT >= 20 s) without. Encephalopathy is hard
#   to see in infants and is not in the record, so the lower pair is used: an alert, not a diagnosis.
INJURY_INR = 1.5
INJURY_PT_SECONDS = 15.0
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# Results drawn after the infusion outside every scheduled window still appear in the table.
UNSCHEDULED_TESTS = {"alt": "lft", "ast": "lft", "bilirubin": "lft", "pt": "lft", "inr": "lft",
                     "platelets": "platelets", "troponin-i": "troponin-i"}


@dataclass(frozen=True)
class ScheduleItem:
    test: str  # "lft" | "platelets" | "troponin-i"
    day: int
    due: date
    status: str  # "done" | "abnormal" | "due" | "overdue" | "upcoming" | "missed"
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()  # LFT components not drawn in the window
    scheduled: bool = True  # False: a draw outside every scheduled window, shown as drawn
    late: bool = False  # drawn more than WINDOW_DAYS after the due date


@dataclass(frozen=True)
class Alert:
    code: str  # reason code worded in cards/monitoring.json
    severity: str  # "critical" | "warning" | "info"
    evidence: tuple[Evidence, ...] = ()
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MonitoringEvaluation:
    infusion: date
    infusion_evidence: Evidence
    today: date
    day: int
    items: tuple[ScheduleItem, ...]
    alerts: tuple[Alert, ...]
    continuing: tuple[str, ...]  # tests continued past month 3, with why in alerts
    overdue_tests: tuple[str, ...]


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


class _Ctx:
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


_NAMES = {"alt": "ALT", "ast": "AST", "bilirubin": "total bilirubin", "inr": "INR", "pt": "PT"}


def _period(order) -> str:
    """'2026-11-21 to 2026-12-18' (an order's course dates as stated)."""
    start = order.start.isoformat() if order.start else "start not stated"
    return f"{start} to {order.end.isoformat()}" if order.end else f"from {start}"


def _holds(m: Measurement, op: str, limit: float) -> bool | None:
    """Does the result satisfy `op limit`, given its comparator (None: a bound that does not settle it)?"""
    return bound_holds(m.value, m.comparator, op, limit)


def _above_uln(m: Measurement) -> str:
    """'total bilirubin 3 mg/dL (ULN 1.2 mg/dL)'."""
    if m.analyte == "inr":
        return f"INR {m.value:g} (ULN {m.ref_high:g})"
    return f"{_NAMES[m.analyte]} {m.value:g} {m.unit} (ULN {m.ref_high:g} {m.unit})"


def _brief(m: Measurement) -> str:
    """'ALT 9 x ULN', 'INR 1.6', 'PT 16.5 s': a summary's words, no parentheses."""
    if m.analyte in ("alt", "ast", "bilirubin") and m.ref_high:
        name = "bilirubin" if m.analyte == "bilirubin" else _NAMES[m.analyte]
        return f"{name} {m.value / m.ref_high:.1f} x ULN"
    return f"INR {m.value:g}" if m.analyte == "inr" else f"{_NAMES[m.analyte]} {m.value:g} {m.unit}"


def _times_uln(m: Measurement) -> str:
    """'ALT 405 U/L (9 x ULN)'; INR and PT as measured (their thresholds are absolute)."""
    if m.analyte == "inr":
        return f"INR {m.value:g}"
    text = f"{_NAMES[m.analyte]} {m.value:g} {m.unit}"
    if m.analyte in ("alt", "ast", "bilirubin") and m.ref_high:
        text += f" ({m.value / m.ref_high:.1f} x ULN)"
    return text
