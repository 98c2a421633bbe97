"""Findings -> CDS Hooks cards. Wording comes from cards/criteria.json; this module only assembles.

CDS Hooks 2.0 JSON rules: no null or empty elements (they are pruned); summary < 140 characters;
`source.label` always set; suggestions always come with `selectionBehavior`.
"""

from __future__ import annotations

from collections.abc import Callable

from . import extensions
from .facts import PatientFacts
from .markdown import md
from .quantities import scientific
from .rules.findings import MET, NEEDS_REVIEW, NOT_ELIGIBLE, NOT_MET, REVIEW, UNKNOWN, Evaluation, Finding
from .wording import Wording

MAX_SUMMARY = 139
POLICY = "DR.005.D"


def prune(value):
    """Drop None, empty strings, lists and dicts, recursively (CDS Hooks: no null or empty elements).

    Suggested FHIR resources (`action.resource`) are built complete from cards/orders.json and are not
    walked again; tests check every response, resources included, has no empty element."""
    kind = type(value)
    if kind is dict:
        out = {}
        for k, v in value.items():
            if k != "resource" and type(v) in (dict, list):
                v = prune(v)
            if v is not None and v != "" and v != [] and v != {}:
                out[k] = v
        return out
    if kind is list:
        out = []
        for v in value:
            if type(v) in (dict, list):
                v = prune(v)
            if v is not None and v != "" and v != [] and v != {}:
                out.append(v)
        return out
    return value


def _quoted(quote: str) -> str:
    return f' — report text: "{md(quote)}"' if quote else ""


def summary_text(text: str) -> str:
    """A card summary under 140 characters (CDS Hooks), cut with an ellipsis when longer."""
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1].rstrip() + "…"


class CardBuilder:
    """Builds the cards of one response."""

    def __init__(self, wording: Wording, new_id: Callable[[], str], label: str | None = None,
                 legacy_alias: bool = False):
        self.wording = wording
        self.new_id = new_id
        self.label = label or wording.data["service"]["label"]  # CRD: the insurer's name when known
        self.legacy_alias = legacy_alias  # also publish the outcome under its DEPRECATED old name
        self._texts: dict[str, str] = {}  # criterion -> reason markdown, rendered once per response

    def reason_text(self, f: Finding) -> str:
        text = self._texts.get(f.criterion)
        if text is None:
            text = self._texts[f.criterion] = self.wording.reason_text(f)
        return text

    def evidence_lines(self, evidence) -> list[str]:
        """Markdown list items for evidence: what was found, then the resource it came from (both escaped)."""
        return [f"- {md(e.text)} ({md(e.reference)})" + _quoted(e.quote) for e in evidence]

    def source(self, topic: str) -> dict:
        return {"label": self.label, "topic": {"system": self.wording.data["service"]["topicSystem"], "code": topic}}

    def override_reasons(self) -> list[dict]:
        system = self.wording.data["overrideReasonSystem"]
        return [{"system": system, **r} for r in self.wording.data["overrideReasons"]]

    # The summary card: can this infusion go ahead, and if not why (README "Card design"); it carries the
    # machine-readable outcome (every criterion with its reason) for integration engines.
    def outcome_key(self, evaluation: Evaluation) -> str:
        """The overall outcome, with `not-covered` for a not-eligible that rests only on coverage rules
        (Da Vinci CRD: payment issues are at most `warning`)."""
        if evaluation.overall == NOT_ELIGIBLE and all(
                self.indicator(f) != "critical" for f in evaluation.findings if f.status == NOT_MET):
            return "not-covered"
        if evaluation.overall == NEEDS_REVIEW and all(
                self.prescriber_fix(f) for f in evaluation.findings if f.status == REVIEW):
            return "prescriber-fix"  # a prescribing error (duplicate orders): the prescriber, not a referral
        return evaluation.overall

    def prescriber_fix(self, f: Finding) -> bool:
        """A finding for review that is a prescribing error the prescriber fixes before signing (cards/criteria.json
        `prescriberFix`); its status stays `review`, only the wording changes."""
        return f.status == REVIEW and bool(self.wording.reason(f).get("prescriberFix"))

    def problems(self, evaluation: Evaluation) -> list[Finding]:
        """The criteria that stop the infusion, most severe first: not met (critical before warning), for
        review, then missing; within a group, in criterion order."""
        rank = {NOT_MET: 0, REVIEW: 2, UNKNOWN: 3}
        found = [f for f in evaluation.findings if f.status != MET]
        return sorted(found, key=lambda f: rank[f.status] + (self.indicator(f) != "critical" and f.status == NOT_MET))

    def summary_line(self, evaluation: Evaluation, checks: list[str] | tuple[str, ...] = ()) -> str:
        """Under 140 characters: the verdict, then the problems with their values, as many as fit ("+N more").
        An eligible evaluation with warning cards standing (`checks`) names them: never an unqualified "can go
        ahead" next to a warning."""
        outcome = self.wording.data["outcomes"][self.outcome_key(evaluation)]
        template = outcome["summary"]
        # One problem named by two criteria (a birth date both the age and the gestational-age checks need) once.
        names = list(dict.fromkeys(self.wording.problem(f) for f in self.problems(evaluation)))
        params = dict(total=len(evaluation.findings), as_of=evaluation.as_of.isoformat())
        if evaluation.overall == "eligible" and checks:
            names = list(checks)
            template = self.wording.data["goAhead"]["summary"]
            params = dict(count=len(checks), count_s="" if len(checks) == 1 else "s")
        for shown in range(len(names), 0, -1):
            listed = ", ".join(names[:shown]) + (f", +{len(names) - shown} more" if shown < len(names) else "")
            text = template.format(problems=listed, **params)
            if len(text) <= MAX_SUMMARY:
                return text
        # Even the first problem alone is too long (a value quoted from the data): it is cut, never dropped for a
        # bare count that names nothing (review 2026-11-24f F8).
        more = f", +{len(names) - 1} more" if len(names) > 1 else ""
        room = MAX_SUMMARY - len(template.format(problems=more, **params)) - 1
        if names and room >= 20:
            return template.format(problems=names[0][:room].rstrip() + "…" + more, **params)
        return summary_text(template.format(problems=f"{len(names)} criteria", **params))

    def summary_card(self, evaluation: Evaluation, facts: PatientFacts, extra: dict | None = None,
                     checks: list[str] | tuple[str, ...] = ()) -> dict:
        texts = self.wording.data["summaryDetail"]
        lines = []
        if evaluation.overall == "eligible" and checks:
            lines += [self.wording.data["goAhead"]["checks"].format(items="; ".join(md(c) for c in checks)), ""]
        problems = self.problems(evaluation)
        for status in (NOT_MET, "prescriber-fix", REVIEW, UNKNOWN):
            group = [f for f in problems if ("prescriber-fix" if self.prescriber_fix(f) else f.status) == status]
            if group:
                items = "; ".join(f"{self.wording.criterion(f.criterion)['title']} "
                                  f"({self.wording.criterion(f.criterion)['source']})" for f in group)
                lines += [texts["problems"].format(label=texts["groups"][status], items=items), ""]
        met = [f for f in evaluation.findings if f.status == MET]
        if met:  # compressed: one line of names; each reason stays in the outcome below
            lines += [texts["met"].format(count=len(met), total=len(evaluation.findings), items=", ".join(
                self.wording.criterion(f.criterion)["short"] for f in met)), ""]
        cautions = [f for f in met if f.caution]
        if cautions:
            lines += [texts["caution"].format(items=", ".join(
                self.wording.criterion(f.criterion)["short"] for f in cautions)), ""]
        shown = [f for f in met if f.evidence and not f.caution]  # a caution card shows its own evidence
        if shown:  # one line per met check: what showed it (value, unit, date, resource)
            lines += [texts["evidenceHeader"], *(texts["evidenceLine"].format(
                short=self.wording.criterion(f.criterion)["short"], evidence=_evidence_line(f.evidence))
                for f in shown), ""]
        lines += [texts["checksCounted"].format(total=len(evaluation.findings)), ""]
        basis = "the planned infusion date" if evaluation.as_of_basis == "planned-infusion-date" else "today"
        lines.append(texts["basis"].format(as_of=evaluation.as_of.isoformat(), basis=basis,
                                           extension=extensions.ELIGIBILITY))
        criteria = [_criterion_outcome(f, self.wording.criterion(f.criterion),
                                       self.wording.reason_text(f, markdown=False)) for f in evaluation.findings]
        outcome = self.wording.data["outcomes"][self.outcome_key(evaluation)]
        summary = self.summary_line(evaluation, checks)
        kit = evaluation.kit
        if kit is not None:
            text = self.wording.data["kit"]
            lines += ["", text["line"].format(
                weight=f"{kit.weight_kg:g}", band=f"{kit.band_kg[0]}-{kit.band_kg[1]}",
                volume=f"{kit.dose_volume_ml:g}", vg=scientific(kit.dose_vg), vials=_vials(kit), ndc=kit.ndc)
                + (text["betweenBands"] if kit.weight_kg < kit.band_kg[0] else "")
                + ("" if kit.ndc_verified else text["derived"])
                + ("" if kit.vial_split_verified or not kit.ndc_verified else text["splitDerived"])]
        lines += ["", "Decision support only; the prescriber and the payer's reviewer decide."]
        outcome_ext = {
            "policy": POLICY,
            "overall": evaluation.overall,
            "asOf": evaluation.as_of.isoformat(),
            "asOfBasis": evaluation.as_of_basis,
            "plannedDateFrom": facts.order.planned_date_source if facts.order else None,
            "plannedDate": _planned(facts),
            "notes": list(evaluation.notes),
            "order": facts.order.reference if facts.order else None,
            "criteria": criteria,
            "dataIssues": [{"source": i.source, "problem": i.problem} for i in facts.issues],
        }
        outcome_ext.update(extra or {})
        # Every member is always set, so nothing needs pruning but the outcome's optional top-level members
        # (criteria omit empty evidence themselves).
        published = {k: v for k, v in outcome_ext.items() if v}
        return {
            "uuid": self.new_id(),
            "summary": summary,
            "indicator": outcome["indicator"],
            "detail": "\n".join(lines),
            "source": self.source("coverage-info"),
            "extension": {extensions.ELIGIBILITY: published,
                          **({extensions.LEGACY_ELIGIBILITY: published} if self.legacy_alias else {})},
        }

    def criterion_card(self, f: Finding, evaluation: Evaluation, suggestions: list[dict] | None = None,
                       folded_into: dict[str, list[Finding]] | None = None,
                       notes: list[str] | None = None, evaluation_order: str | None = None,
                       several_orders: bool = False) -> dict:
        """`notes`: further paragraphs, e.g. the orders already placed for what is missing."""
        folded_into = folded_into or {}
        c = self.wording.criterion(f.criterion)
        reason = self.wording.reason(f)
        summary = self.wording.render(reason.get("summary") or "{title}: " + f.status, f, markdown=False)
        basis = "planned infusion date" if evaluation.as_of_basis == "planned-infusion-date" else "today"
        detail = [
            *([self.wording.data["orderNote"].format(order=md(evaluation_order))]
              if several_orders and evaluation_order else []),
            f"**Criterion:** {c['title']}",  # its id is in the criterion extension, not in clinician text
            f"**Source:** {c['source']}",
            f"**Status:** {self.wording.status_label(f)}",
            f"**Why:** {self.reason_text(f)}",
        ]
        if f.evidence:
            detail.append("**Evidence:**\n" + "\n".join(self.evidence_lines(f.evidence)))
        else:
            detail.append("**Evidence:** none found in the record.")
        detail += notes or []
        detail.append(f"**Evaluated as of:** {evaluation.as_of.isoformat()} ({basis})")
        for folded in folded_into.get(f.criterion, ()):
            other = self.wording.criterion(folded.criterion)
            detail.append(self.wording.data["summaryDetail"]["foldedInto"].format(
                title=other["title"], source=other["source"]))
        if c.get("labelNote"):
            detail.append(f"**FDA label vs payer sources:** {c['labelNote']}")
        card = {
            "uuid": self.new_id(),
            "summary": summary_text(summary),
            "indicator": self.indicator(f),
            "detail": "\n\n".join(detail),
            "source": self.source(c.get("topic", "coverage-info")),
            "overrideReasons": self.override_reasons(),
            "suggestions": suggestions,
            "selectionBehavior": "any" if suggestions else None,
            "extension": {extensions.CRITERION: {"id": f.criterion, "status": f.status, "reasonCode": f.reason},
                          **self.associated(evaluation_order)},
        }
        return prune(card)

    def associated(self, order: str | None) -> dict:
        """Da Vinci CRD: the order a card is about (`davinci-crd.associated-resource`, 0..* Reference)."""
        return {ASSOCIATED_RESOURCE: [{"reference": order}]} if order else {}

    def indicator(self, f: Finding) -> str:
        """critical: a failed safety gate; warning: missing data, a referral, a failed coverage rule, or a
        risk that leaves the criterion met (`caution`)."""
        c = self.wording.criterion(f.criterion)
        if f.status == NOT_MET:
            return "critical" if c.get("safetyGate") else c.get("indicatorWhenNotMet", "warning")
        if f.status in (UNKNOWN, REVIEW) or f.caution:
            return "warning"
        return "info"

    def note_cards(self, evaluation: Evaluation, facts: PatientFacts) -> list[dict]:
        """A warning card per evaluation note (e.g. a planned infusion date before today)."""
        cards = []
        for note in evaluation.notes:
            text = self.wording.data["notes"][note]
            params = _note_params(evaluation, facts)
            cards.append(prune({
                "uuid": self.new_id(),
                "summary": summary_text(text["summary"].format(**params)),
                "indicator": "warning",
                "detail": text["detail"].format(**params),
                "source": self.source("clinical-reminder"),
                "overrideReasons": self.override_reasons(),
                "extension": {extensions.NOTE: {"code": note, "plannedDate": params["planned"]}},
            }))
        return cards

    def data_issues_card(self, facts: PatientFacts) -> dict | None:
        if not facts.issues:
            return None
        texts = self.wording.data["dataIssues"]
        lines = [texts["detail"], ""] + [f"- {md(i.source)}: {md(i.problem)}" for i in facts.issues]
        return prune({
            "uuid": self.new_id(),
            "summary": summary_text(texts["summary"].format(count=len(facts.issues),
                                                            count_s="" if len(facts.issues) == 1 else "s")),
            "indicator": "info",
            "detail": "\n".join(lines),
            "source": self.source("clinical-reminder"),
        })


    def no_schedule_card(self, facts: PatientFacts, why: list[str]) -> dict:
        """Monitoring without day 0: why no schedule can be given, and every data issue."""
        texts = self.wording.data["dataIssues"]["noSchedule"]
        lines = [texts["detail"], ""] + [f"- {md(w)}" for w in why]
        if facts.issues:
            lines += ["", self.wording.data["dataIssues"]["detail"], ""]
            lines += [f"- {md(i.source)}: {md(i.problem)}" for i in facts.issues]
        return prune({
            "uuid": self.new_id(),
            "summary": summary_text(texts["summary"]),
            "indicator": "warning",
            "detail": "\n".join(lines),
            "source": self.source("clinical-reminder"),
        })


def _planned(facts: PatientFacts) -> str | None:
    """The planned infusion date as the order states it (usable or not)."""
    return facts.order.planned_date.isoformat() if facts.order and facts.order.planned_date else None


def _note_params(evaluation: Evaluation, facts: PatientFacts) -> dict:
    return {"planned": _planned(facts) or "", "as_of": evaluation.as_of.isoformat(),
            "source_element": facts.order.planned_date_source if facts.order else ""}


def _evidence_line(evidence) -> str:
    """Each piece of evidence, escaped, with its resource, on one line."""
    return "; ".join(f"{md(e.text)} ({md(e.reference)})" for e in evidence)


def _vials(kit) -> str:
    """'2 × 5.5 mL + 3 × 8.3 mL vials', leaving out a vial size the kit does not use."""
    parts = [f"{n} × {size} mL" for n, size in ((kit.vials_5_5ml, "5.5"), (kit.vials_8_3ml, "8.3")) if n]
    return " + ".join(parts) + " vials"


def _criterion_outcome(f: Finding, criterion: dict, reason: str) -> dict:
    """One criterion in the machine-readable outcome (README: the eligibility extension)."""
    outcome = {"id": f.criterion, "status": f.status, "reason": reason, "reasonCode": f.reason,
               "source": criterion["source"]}
    if f.caution:
        outcome["caution"] = True
    if f.evidence:
        outcome["evidence"] = [e.reference for e in f.evidence]
    return outcome


ASSOCIATED_RESOURCE = "davinci-crd.associated-resource"
SEVERITY = {"critical": 0, "warning": 1, "info": 2}


def by_severity(cards: list[dict]) -> list[dict]:
    """Critical, then warning, then info; the build order (criterion order) within each."""
    return sorted(cards, key=lambda c: SEVERITY[c["indicator"]])


def worst_first(cards: list[dict]) -> list[dict]:
    """The first card (the summary) takes the worst indicator of the response; the rest by severity."""
    if not cards:
        return cards
    first, rest = cards[0], by_severity(cards[1:])
    worst = min([first["indicator"]] + [c["indicator"] for c in rest], key=SEVERITY.__getitem__)
    return [dict(first, indicator=worst)] + rest


def folded(evaluation: Evaluation, wording: Wording) -> dict[str, list[Finding]]:
    """Criterion -> the findings whose card it absorbs (cards/criteria.json `foldedInto`: the dose cannot be
    checked because of the weight; one card says so, not two)."""
    out: dict[str, list[Finding]] = {}
    for f in evaluation.findings:
        rule = wording.criterion(f.criterion).get("foldedInto")
        if f.status != MET and rule and f.reason in rule["reasons"] and \
                evaluation.finding(rule["criterion"]).status != MET:
            out.setdefault(rule["criterion"], []).append(f)
    return out


def cards_for(evaluation: Evaluation, facts: PatientFacts, builder: CardBuilder,
              suggestions_for: Callable[[Finding], list[dict]] | None = None, extra: dict | None = None,
              notes_for: Callable[[Finding], list[str]] | None = None, several_orders: bool = False,
              checks: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Summary card, then one card per criterion that is not met, unknown, for review or met with a caution
    (critical, then warning, then info; a card folded into another is not repeated), then data issues.
    `notes_for`: further paragraphs of a criterion's card (e.g. orders already placed). `several_orders`: the
    request drafts more than one order, so criterion cards say they concern the Zolgensma order (Da Vinci CRD).
    `checks`: warnings from other cards (the site of care) the first card names when the rest is eligible."""
    absorbed = folded(evaluation, builder.wording)
    skipped = {f.criterion for group in absorbed.values() for f in group}
    criterion_cards = [
        builder.criterion_card(f, evaluation, suggestions_for(f) if suggestions_for else None, absorbed,
                               notes_for(f) if notes_for else None,
                               facts.order.reference if facts.order else None, several_orders)
        for f in evaluation.findings if (f.status != MET or f.caution) and f.criterion not in skipped]
    checks = [builder.wording.problem(f) for f in evaluation.findings if f.status == MET and f.caution] + [
        builder.wording.data["notes"][n]["problem"].format(**_note_params(evaluation, facts))
        for n in evaluation.notes] + list(checks)
    cards = [builder.summary_card(evaluation, facts, extra, checks)] + builder.note_cards(evaluation, facts)
    cards += by_severity(criterion_cards)
    issues = builder.data_issues_card(facts)
    if issues:
        cards.append(issues)
    return cards
