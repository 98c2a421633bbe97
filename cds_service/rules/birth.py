"""A birth date recorded only in part ("2025-03", "2025": FHIR date allows it): parse leniently, decide strictly
(fix-cov item 5, review R11). A rule that reads the birth date is evaluated at the earliest and at the latest day
the record allows; both answers agreeing (met, or not met) is the answer whatever the day was; otherwise the
criterion is `unknown`, and the card says the birth date is partial. Pure."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from ..facts import Evidence
from ..quantities import add_years
from .context import RuleContext
from .findings import MET, NOT_MET, UNKNOWN, Finding


def partial_birth(ctx: RuleContext) -> tuple[date, date] | None:
    """(earliest, latest) possible birth date when the record gives only part of it; None for a full date or none."""
    return ctx.facts.birth_span if ctx.facts.birth_date is None else None


def birth_evidence(ctx: RuleContext) -> Evidence:
    """"born 2025-03 (partial date: 2025-03-01 to 2025-03-31)", or "born 2025-03-10"."""
    span = partial_birth(ctx)
    if span is None:
        return Evidence(ctx.facts.patient_reference, f"born {ctx.facts.birth_date.isoformat()}")
    return Evidence(ctx.facts.patient_reference, f"born {ctx.facts.birth_stated} (partial date: "
                                                 f"{span[0].isoformat()} to {span[1].isoformat()})")


def over_birth_span(rule: Callable[[RuleContext], Finding], ctx: RuleContext, *, agreed: dict[str, str]) -> Finding:
    """`rule` for a partial birth date: its findings born on the earliest and on the latest possible day. Both met
    (or both not met) with a reason in `agreed`: that finding, worded for the span (`agreed` maps the reason to the
    partial-date reason; the finding of the day least favourable to it: the latest birth for met, the earliest
    for not met). Otherwise `unknown` (`birth-date-partial`): the answer depends on the day."""
    earliest, latest = partial_birth(ctx)
    findings = [rule(_born_on(ctx, earliest)), rule(_born_on(ctx, latest))]
    statuses = {f.status for f in findings}
    reasons = {f.reason for f in findings}
    params = _span_params(ctx, earliest, latest)
    if len(statuses) == 1 and statuses <= {MET, NOT_MET} and len(reasons) == 1 and reasons <= set(agreed):
        kept = findings[1] if MET in statuses else findings[0]
        evidence = [e for e in kept.evidence if e.reference != ctx.facts.patient_reference] + [birth_evidence(ctx)]
        return ctx.finding(kept.criterion, kept.status, agreed[kept.reason], evidence, kept.missing, kept.caution,
                           **(kept.params | params))
    criterion = findings[0].criterion
    return ctx.finding(criterion, UNKNOWN, "birth-date-partial", [birth_evidence(ctx)], missing=("birth-date",),
                       **params)


def _born_on(ctx: RuleContext, day: date) -> RuleContext:
    """The same context, with the birth date read as `day`."""
    other = copy.copy(ctx)
    other.facts = replace(ctx.facts, birth_date=day, birth_span=(day, day))
    return other


def _span_params(ctx: RuleContext, earliest: date, latest: date) -> dict[str, str]:
    return dict(born=ctx.facts.birth_stated, earliest=earliest.isoformat(), latest=latest.isoformat(),
                second_earliest=add_years(earliest, 2).isoformat(), second_latest=add_years(latest, 2).isoformat())
