"""Evidence integrity: a `met` rests only on sources that were read completely for what it concludes.

Every criterion's `met` is either a "none on record" conclusion (criteria 3 and 10, renewal) or a
"latest result" conclusion (titer, weight, baseline labs, genetics, coverage): both assume nothing
relevant was left unread. So, after the rules, one guard turns a `met` into `unknown` when a source it
rests on was truncated (Bundle.total above the entries received, an OperationOutcome entry, a limit
reached) or holds an entry of the relevant kind, or of unknown kind, that could not be used (unreadable,
invalid, another patient's, future-dated). An unread result of a measured kind dated before the newest
usable one does not matter: the rules read only the newest. A result not final yet (preliminary, registered)
is never evidence, but one that may be newer than the result used stops the `met` the same way
("result-not-final": wait for the final result). Pure: facts in, findings out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ..facts import PatientFacts, Titer
from ..quantities import WEIGHT_COMPARED_DAYS, weight_change_allowed, weights_contradict
from ..terminology import SERIES_ANALYTES
from .findings import MET, UNKNOWN, Finding

LABS, VITALS = ("labs",), ("vitals",)
# The FHIR-server route's follow-up lab searches (follow_ups.py): each stops only the criterion it serves.
GENETICS_READ, TITER_READ = LABS + ("genetics-reports",), LABS + ("lab-history",)
LIVER = frozenset({"ast", "alt", "bilirubin", "pt", "inr"})
PLATELETS_TROPONIN = frozenset({"platelets", "troponin-i"})

# criterion -> what its `met` rests on: ((sources whose gaps and unknown entries matter), kinds), ...
# Unread entries of one of the kinds matter from any source (a weight may come with the labs).
DEPENDS: dict[str, tuple[tuple[tuple[str, ...], frozenset[str]], ...]] = {
    # Criterion 1 is met by a specialist found: no "none on record" conclusion, nothing to guard.
    "smn1-biallelic": ((GENETICS_READ, frozenset({"genetics"})),),
    "no-advanced-sma": ((("conditions",), frozenset({"condition"})),
                        (("procedures", "devices", "device-use", "device-requests"), frozenset({"advanced-sma"}))),
    "gestational-age": ((("patient",), frozenset({"patient"})),
                        (VITALS, frozenset({"gestational-age", "gestational-age-estimated"}))),
    "age-under-2": ((("patient",), frozenset({"patient"})),),
    "aav9-titer": ((TITER_READ, frozenset({"aav9-titer"})),),
    "corticosteroid-plan": ((("medication-requests",), frozenset({"corticosteroid"})),
                            (VITALS, frozenset({"weight"}))),
    "baseline-liver-function": ((LABS, LIVER),),
    "baseline-platelets-troponin": ((LABS, PLATELETS_TROPONIN),),
    "no-active-infection": ((("conditions",), frozenset({"condition"})), (VITALS, frozenset({"temperature"})),
                            (("medication-requests",), frozenset({"antimicrobial"}))),
    "dose-within-label": ((VITALS, frozenset({"weight"})),),
    "weight-in-label-range": ((VITALS, frozenset({"weight"})),),
    "one-time-dose": ((("medication-administrations", "medication-statements", "medication-dispenses", "procedures",
                        "medication-requests", "service-requests", "immunizations"),
                       frozenset({"zolgensma"})),
                      (("conditions",), frozenset({"condition"}))),
    "benefit-covered": ((("coverage",), frozenset({"coverage"})),),
}
# Unread kinds a repeat test resolves: the `missing` topics that bring order suggestions.
_ORDERABLE = frozenset({"ast", "alt", "bilirubin", "pt", "platelets", "troponin-i", "aav9-titer"})
_SHOWN = 4  # unread entries named on a card; the data-issues card lists them all


def guard(finding: Finding, facts: PatientFacts, make) -> Finding:
    """`finding` unchanged, or, for a `met` resting on an incomplete source, the `unknown` that names what
    could not be read. `make(criterion, status, reason, evidence, missing, **params)` builds findings."""
    if finding.status != MET or finding.criterion not in DEPENDS:
        return finding
    reasons: list[str] = []
    kinds_unread: set[str] = set()
    not_final = True  # every reason is a result still on its way (registered, preliminary)
    for sources, kinds in DEPENDS[finding.criterion]:
        for source in sources:
            gaps = [f"{source}: {gap}" for gap in facts.source_gaps.get(source, ())]
            reasons += gaps
            not_final = not_final and not gaps
        for u in facts.unread:
            if u.kind is None and u.source not in sources or u.kind is not None and u.kind not in kinds:
                continue
            if u.kind is not None and u.when is not None and _older_than_newest(facts, u.kind, u.when):
                continue
            reasons.append(f"{u.reference} ({u.reason})")
            kinds_unread.add(u.kind or "")
            not_final = not_final and bool(u.not_final)
    if not reasons:
        return finding
    shown = "; ".join(reasons[:_SHOWN]) + (f"; and {len(reasons) - _SHOWN} more" if len(reasons) > _SHOWN else "")
    if not_final:  # nothing to correct or re-order: a newer result is on its way (clinical-facts 5)
        return make(finding.criterion, UNKNOWN, "result-not-final", finding.evidence, (), pending=shown)
    return make(finding.criterion, UNKNOWN, "source-incomplete", finding.evidence,
                tuple(sorted(kinds_unread & _ORDERABLE)), unread=shown)


def _older_than_newest(facts: PatientFacts, kind: str, when: date) -> bool:
    """Is there a usable result of `kind` dated after `when`? Then the unread one could not have decided."""
    if kind == "aav9-titer":
        dates = [t.when for t in facts.titers if t.when is not None]
    elif kind == "genetics" or kind in SERIES_ANALYTES:
        return False  # every SMN1 result counts, and every reading of a series (a fever), not only the newest
    else:
        dates = [m.when for m in facts.measurements if m.analyte == kind and m.when is not None]
    return bool(dates) and max(dates) > when


# --- contradictions ---------------------------------------------------------------------------------
# The rules read the newest result of an analyte. When two results share that newest date and disagree
# (a titer <1:25 and 1:200; two weights), neither can be preferred: Bundle order must never decide. The
# rules are then run once per choice; a criterion whose status depends on the choice is `unknown`, citing
# every disagreeing result; one that comes out the same whichever result is right keeps that status.
MAX_VARIANTS = 32  # beyond this many combinations every dependent criterion is simply `unknown`


def _same_value(item) -> tuple:
    if isinstance(item, Titer):
        return (item.reciprocal, item.comparator, item.method_kind)
    return (item.value, item.comparator)


def disagreements(facts: PatientFacts, as_of: date) -> list[tuple[str, list]]:
    """(analyte, the disagreeing results), sorted so that the result never depends on the order the record came
    in: results of an analyte's newest date on or before `as_of` that differ; weights of the two latest days
    that cannot both be right (review 2026-11-24b I2); gestational ages at birth that differ, whatever their
    dates (one fact: review 2026-11-24b O1)."""
    groups = dict(_same_day(facts, as_of))
    weights = _contradicting_weights(facts, as_of)
    if weights:
        same_day = {id(m) for m in weights}
        groups["weight"] = weights + [m for m in groups.get("weight", ()) if id(m) not in same_day]
    at_birth = _differing_ga_at_birth(facts)
    if at_birth:
        groups["gestational-age"] = at_birth  # holds any same-day pair too
    return sorted(groups.items())


def _contradicting_weights(facts: PatientFacts, as_of: date) -> list:
    """The weights of the newest day and of the day before it (within WEIGHT_COMPARED_DAYS), when one of each
    cannot both be right (quantities.weights_contradict); else []."""
    weights = [m for m in facts.measurements if m.analyte == "weight" and m.when is not None and m.when <= as_of]
    if len(weights) < 2:
        return []
    days = sorted({m.when for m in weights}, reverse=True)
    if len(days) < 2 or (days[0] - days[1]).days > WEIGHT_COMPARED_DAYS:
        return []
    newest = [m for m in weights if m.when == days[0]]
    before = [m for m in weights if m.when == days[1]]
    if not any(weights_contradict(a.value, a.when, b.value, b.when) for a in newest for b in before):
        return []
    return sorted(before + newest, key=lambda m: (m.when, m.value, m.reference))


def _differing_ga_at_birth(facts: PatientFacts) -> list:
    """Every gestational age at birth (LOINC 76516-4) when they do not all agree; else []. Values within a day
    (1/7 week: weeks+days rounded to weeks) agree; any other difference goes to the variants, so it decides
    only where it changes the answer."""
    ga = sorted((m for m in facts.measurements if m.analyte == "gestational-age" and m.when is not None),
                key=lambda m: (m.when, m.value, m.reference))
    if len(ga) < 2 or max(m.value for m in ga) - min(m.value for m in ga) < 1 / 7:
        return []
    return ga


def _same_day(facts: PatientFacts, as_of: date) -> list[tuple[str, list]]:
    # Fast path (every request): no two results of one analyte share a date, so nothing can disagree.
    days = {(m.analyte, m.when) for m in facts.measurements}
    titer_days = {t.when for t in facts.titers}
    if len(days) == len(facts.measurements) and len(titer_days) == len(facts.titers):
        return []
    by_analyte: dict[str, list] = {}
    for m in facts.measurements:
        if m.when is not None and m.when <= as_of and m.analyte not in SERIES_ANALYTES:
            by_analyte.setdefault(m.analyte, []).append(m)
    titers = [t for t in facts.titers if t.when is not None and t.when <= as_of]
    if titers:
        by_analyte["aav9-titer"] = titers
    groups = []
    for analyte, items in sorted(by_analyte.items()):
        newest = max(i.when for i in items)
        same_day = sorted((i for i in items if i.when == newest), key=lambda i: (_same_value(i), i.reference))
        if len({_same_value(i) for i in same_day}) > 1:
            groups.append((analyte, same_day))
    return groups


def variants(facts: PatientFacts, groups: list[tuple[str, list]]) -> list[PatientFacts]:
    """One copy of the facts per choice of one result in each group (the others left out)."""
    chosen: list[list] = [[]]
    for _, items in groups:
        chosen = [pick + [item] for pick in chosen for item in items][:MAX_VARIANTS + 1]
    out = []
    for pick in chosen:
        dropped = {id(i) for _, items in groups for i in items} - {id(i) for i in pick}
        out.append(replace(facts, measurements=[m for m in facts.measurements if id(m) not in dropped],
                           titers=[t for t in facts.titers if id(t) not in dropped]))
    return out


def merge(runs: list[tuple[Finding, ...]], groups: list[tuple[str, list]], make) -> tuple[Finding, ...]:
    """Per criterion: the common finding when every choice gives the same status, else `unknown`."""
    overflow = len(runs) > MAX_VARIANTS
    merged = []
    for findings in zip(*runs, strict=True):
        first = findings[0]
        if not overflow and len({f.status for f in findings}) == 1:
            merged.append(first)
            continue
        kinds = {k for _, ks in DEPENDS.get(first.criterion, ()) for k in ks}
        cited = [i for analyte, items in groups if analyte in kinds or not kinds for i in items]
        if not cited:
            cited = [i for _, items in groups for i in items]
        results = "; ".join(f"{i.evidence.text} ({i.reference})" for i in cited)
        reason, params = _conflict(cited)
        merged.append(make(first.criterion, UNKNOWN, reason, [i.evidence for i in cited],
                           tuple(sorted({a for a, _ in groups} & _ORDERABLE)), results=results, **params))
    return tuple(merged)


def _conflict(cited: list) -> tuple[str, dict]:
    """The reason code (and its numbers) for results that cannot all be right: same day, or across days."""
    analytes = {getattr(i, "analyte", "aav9-titer") for i in cited}
    if len({i.when for i in cited}) == 1 or len(analytes) > 1:
        return "conflicting-results", {}
    if analytes == {"gestational-age"}:
        return "ga-at-birth-conflict", {}
    if analytes == {"weight"}:
        low, high = min(cited, key=lambda m: m.value), max(cited, key=lambda m: m.value)
        apart = abs((high.when - low.when).days)
        return "weights-contradict", dict(change=f"{high.value - low.value:.2f}".rstrip("0").rstrip("."),
                                          days=apart, allowed=f"{weight_change_allowed(high.value, apart):.2f}")
    return "conflicting-results", {}
