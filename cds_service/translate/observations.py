"""Observations: lab results, titers, SMN1 genetics, vitals (reader mixin of the Translator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from .. import terminology as t
from ..facts import (
    LOW_LIMIT_ANALYTES,
    TITER_NOT_READABLE,
    Assessment,
    DataIssue,
    Measurement,
    OtherPersonResult,
    Titer,
    Unread,
)
from ..fhir_client import as_list
from ..quantities import (
    CANONICAL_UNITS,
    TITER_RECIPROCAL_RANGE,
    WEIGHT_COMPARED_DAYS,
    UnitError,
    implausible,
    to_canonical,
    units_disagree,
)
from .common import (
    _NONE,
    FINAL_OBSERVATION,
    _norm,
    _ref,
    _s,
    _start,
    _to_date,
    unreadable_concept,
)
from .genetics import UnreadableGenetics, finish, read_genetics
from .ranges import RangeOption, pick_range, read_bound
from .result_dates import date_problem, effective_date, latest_possible, raw_date, reported_date, stated_date
from .titers import titer_method, titer_remark, titer_value


@dataclass
class LocalCodes:
    """Site-configured local codes: {(system, code): analyte}, e.g. a lab's own AAV9 code."""

    by_code: dict[tuple[str, str], str] = field(default_factory=dict)

    @cached_property
    def table(self) -> dict[tuple[str, str], str]:
        """Every recognised code -> analyte; site-configured local codes win over standard ones."""
        return {**_STANDARD_CODES, t.SMN1_TEST.key: "genetics", **self.by_code}

    @classmethod
    def from_mapping(cls, mapping: dict[str, str] | None) -> LocalCodes:
        parsed = {}
        for key, analyte in (mapping or {}).items():
            system, _, code = key.rpartition("|")
            parsed[(system, code)] = analyte
        return cls(parsed)


_STANDARD_CODES = {code.key: analyte for analyte, codes in t.ANALYTES.items() for code in codes}
_NAMES = {name: analyte for analyte, names in t.ANALYTE_NAMES.items() for name in names}


# R4 ObservationStatus codes that are not results (yet, or any more): never evidence (clinical-facts 5: only
# final, amended and corrected results count). Cancelled and entered-in-error ones are left out without a word.
OTHER_OBSERVATION_STATUSES = frozenset({"registered", "preliminary", "cancelled", "entered-in-error", "unknown"})
# Results still on their way (R4: registered = no result yet, preliminary = early results, unknown = the source
# does not know which status applies): remembered as not final, so that a `met` resting on an older result
# waits for them (review 2026-11-24b A2, P1; rules/integrity.py and rules/monitoring.py).
NOT_FINAL_STATUSES = frozenset({"registered", "preliminary", "unknown"})
# How a result's analyte is named where the record's own name is not shown (reasons on the cards).
_SHOWN_NAMES = {"aav9-titer": "AAV9 titer", "alt": "ALT", "ast": "AST", "bilirubin": "total bilirubin", "pt": "PT",
                "inr": "INR", "platelets": "platelet count", "troponin-i": "troponin-I",
                "gestational-age": "gestational age at birth", "gestational-age-estimated": "gestational age"}
_AAV9_MARKERS = tuple(_norm(m) for m in t.AAV9_TEXT_MARKERS)


class ObservationReader:
    # Observations -----------------------------------------------------------------------------
    def classify(self, code: dict | None) -> str | None:
        """Which analyte an Observation.code (as JSON) is: standard code, local code, or exact name."""
        if not isinstance(code, dict):
            return None
        codings = code.get("coding")
        if type(codings) is not list:
            codings = ()
        for c in codings:
            if type(c) is dict:
                system, value = c.get("system"), c.get("code")
                if type(system) is str and type(value) is str:
                    found = self._codes.get((system, value))
                    if found:
                        return found
        texts = [_s(code.get("text"))] + [_s(c.get("display")) for c in codings if type(c) is dict]
        for text in texts:
            norm = _norm(text)
            if not norm:
                continue
            if any(m in norm for m in _AAV9_MARKERS):
                return "aav9-titer"
            if "smn1" in norm.split():
                return "genetics"
            if norm in _NAMES:
                return _NAMES[norm]
        return None

    def _observation(self, resource: dict) -> None:
        analyte = self.classify(resource.get("code"))
        if analyte is None and (_mentions_smn1_component(resource) or _is_implication(resource)):
            analyte = "genetics"
        status = resource.get("status")
        if analyte is None:
            if unreadable_concept(resource.get("code")):
                self._skip(resource, "skipped: Observation.code not readable, so what it measures is unknown")
            return
        whose, label = labelled_as_another(resource, analyte)
        if whose:  # whatever its status: never this patient's result (review 2026-11-24f F3)
            shown = f"{_shown_value(resource)}, {stated_date(resource) or 'no date'}"
            self.facts.other_persons.append(OtherPersonResult(analyte, _ref(resource), whose, label, shown))
            self.facts.issues.append(DataIssue(_ref(resource), f"skipped: labelled as {whose} ({label!r}): not this "
                                                               "patient's result"))
            return
        if status not in FINAL_OBSERVATION:
            if status in NOT_FINAL_STATUSES:
                self._not_final(resource, analyte, status)
            elif status not in OTHER_OBSERVATION_STATUSES:
                self._skip(resource, f"skipped: status {str(status)[:40]!r} is not an Observation status",
                           analyte, raw_date(resource))
            return
        # Genetics combine across results; every temperature in the fever window counts, not only the latest; a GA
        # at birth is one fact, so every value recorded for it counts whatever its date (review 2026-11-24b O1).
        if self.latest_only and analyte not in ("genetics", "temperature", "gestational-age"):
            self._pending.setdefault(analyte, []).append((self._source, resource))
            return
        self._read_observation(resource, analyte)

    def _not_final(self, resource: dict, analyte: str, status: str) -> None:
        """A result not final yet: not evidence, but remembered (not reported as a data issue: nothing is wrong
        with it) so that a conclusion resting on an older result waits for it (rules/integrity.guard)."""
        stated = stated_date(resource)
        name = _SHOWN_NAMES.get(analyte, analyte)
        reason = f"{name} of {stated or 'no date'} is {status} ({_shown_value(resource)}): wait for the final result"
        self.facts.unread.append(Unread(self._source, _ref(resource), reason, analyte, latest_possible(resource),
                                        status))

    def _resolve_pending(self, horizon: date) -> None:
        """Per analyte, newest first: read results after the horizon (the rules ignore them, cheaply) and
        the first usable one on or before it, with every other result that may be of that same date or newer
        (two that disagree must both be seen: rules/integrity.py); older results are not needed. A result with a
        partial date ("2026-11") sorts by the last day it may stand for, one with no date first: either may be
        newer than the one used, so it is read (and, unusable, remembered as unread: the guard then acts)."""
        for analyte, resources in self._pending.items():
            if len(resources) == 1:
                self._source = resources[0][0]
                self._safely(self._read_observation, resources[0][1], analyte)
                continue
            candidates = sorted(((latest_possible(r) or date.max, _to_date(stated_date(r)), source, r)
                                 for source, r in resources), key=lambda c: c[0], reverse=True)
            # The dates of usable results on or before the horizon, newest first. For a weight, the weights of the
            # day before (within WEIGHT_COMPARED_DAYS) are read too: two that cannot both be right are a
            # contradiction the rules must see (review 2026-11-24b I2; rules/integrity.disagreements).
            seen: list[date] = []
            wanted, reach = (2, timedelta(days=WEIGHT_COMPARED_DAYS)) if analyte == "weight" else (1, timedelta(0))
            for latest, when, source, resource in candidates:
                if seen and (latest < seen[0] - reach or len(seen) == wanted and latest < seen[-1]):
                    break
                before = len(self.facts.measurements) + len(self.facts.titers)
                self._source = source
                self._safely(self._read_observation, resource, analyte)
                found = len(self.facts.measurements) + len(self.facts.titers) > before
                # A titer by another assay than ELISA is not the policy's test: keep looking for one that is.
                if found and analyte == "aav9-titer" and self.facts.titers[-1].method_kind == "other":
                    continue
                if found and when is not None and when <= horizon and when not in seen:
                    seen.append(when)

    def _report_disagreements(self) -> None:
        """Same analyte, same date, different values: reported (the rules decide only where it cannot matter)."""
        by_day: dict[tuple[str, date], list] = {}
        for m in self.facts.measurements:
            if m.analyte not in t.SERIES_ANALYTES:  # readings of one day may differ: each counts
                by_day.setdefault((m.analyte, m.when), []).append((f"{m.comparator}{m.value:g}", m))
        for titer in self.facts.titers:
            by_day.setdefault(("aav9-titer", titer.when), []).append((titer.reported, titer))
        for (analyte, when), items in by_day.items():
            if when is not None and len({shown for shown, _ in items}) > 1:
                items.sort(key=lambda i: i[0])
                refs = ", ".join(f"{item.reference} ({shown})" for shown, item in items)
                self.facts.issues.append(
                    DataIssue(items[0][1].reference, f"{analyte} results of {when} disagree: {refs}"))

    def _read_observation(self, resource: dict, analyte: str) -> None:
        # An invalid titer (two value[x]) is a result on record that could not be read, never a missing one
        obs = self._valid(resource, analyte, raw_date(resource),
                          skipped_as=TITER_NOT_READABLE if analyte == "aav9-titer" else "skipped")
        if obs is None:
            return
        # The draw date is effective[x]; `issued` (reported) is not one (review 2026-11-24f F6): without
        # effective[x], a result is undated, as the rules and the cards treat undated results.
        stated = obs.get("effectiveDateTime") or _start(obs.get("effectivePeriod"))
        when = _to_date(stated)
        # `when` left out of the report: a result from the future (drawn, or reported) is newer than any other
        if self._skipped_as_future(obs, stated or obs.get("issued"), analyte):
            return
        if analyte in t.ASSESSMENT_KINDS:
            self._assessment(obs, analyte, when)
        elif analyte == "aav9-titer":
            self._titer(obs, when)
        elif analyte == "genetics":
            self._genetics(obs, when)
        else:
            self._measurement(obs, analyte, when)

    def _measurement(self, obs: dict, analyte: str, when: date | None) -> None:
        q = obs.get("valueQuantity") or _NONE
        amount = q.get("value")
        if amount is None:
            self._skip(obs, f"{analyte}: no numeric valueQuantity", analyte, when)
            return
        if when is None:
            problem = date_problem(stated_date(obs), reported_date(obs))
            self._skip(obs, f"{_SHOWN_NAMES.get(analyte, analyte)} {_shown_value(obs)} "
                            f"{problem}: it may be newer than the result used", analyte, latest_possible(obs))
            return
        code = q.get("code")
        unit = code if code and q.get("system") == t.UCUM else (q.get("unit") or code)
        clash = units_disagree(analyte, float(amount), q.get("unit"), code)
        if clash:  # "lb" shown, "kg" coded: which one the EHR meant cannot be told (review 2026-11-24b I3)
            self._skip(obs, f"skipped: {clash}", analyte, when)
            return
        try:
            value = to_canonical(analyte, float(amount), unit)
            ranges = _reference_ranges(obs, analyte, unit)
        except UnitError as err:
            self._skip(obs, f"skipped: {err}", analyte, when)
            return
        canonical = CANONICAL_UNITS[analyte]
        original = f"{float(amount):g} {unit}" if (unit or "") != canonical else ""
        impossible = implausible(analyte, value)
        if impossible:
            self._skip(obs, f"skipped: {analyte} {impossible} (reported {float(amount):g} {unit})", analyte, when)
            return
        m = Measurement(analyte, round(value, 4), canonical, when, _ref(obs), q.get("comparator") or "=",
                        original=original)
        self.facts.measurements.append(m)
        if ranges:  # which range is the patient's needs the birth date: after the whole record is read
            self._ranged.append((m, ranges))

    def _apply_reference_ranges(self) -> None:
        """Each result's limits from the reference range that applies to the patient on the result's date."""
        for m, ranges in self._ranged:
            birth = self.facts.birth_date or self.facts.birth_span  # a partial date: its first and last day
            m.ref_low, m.ref_high, notes = pick_range(ranges, birth, m.when, m.unit)
            m.range_note = notes.get("low" if m.analyte in LOW_LIMIT_ANALYTES else "high", "")

    def _assessment(self, obs: dict, kind: str, when: date | None) -> None:
        """A motor scale or milestone assessment: documented when it has a value (score, text or code)."""
        shown = _assessment_value(obs)
        if shown is None:
            self._skip(obs, "skipped: an assessment without a result", kind, when)
            return
        name = _s((obs.get("code") or _NONE).get("text")) or kind
        self.facts.assessments.append(Assessment(kind, _ref(obs), when, f"{name}: {shown}"))

    def _titer(self, obs: dict, when: date | None) -> None:
        try:
            reciprocal, comparator, reported, parenthesis = titer_value(obs)
        except ValueError as err:
            self._skip(obs, f"{TITER_NOT_READABLE}: {err}", "aav9-titer", when)
            return
        low, high = TITER_RECIPROCAL_RANGE
        if not low <= reciprocal <= high:  # a result on record that is not a titer, not a missing one (A6)
            self._skip(obs, f"{TITER_NOT_READABLE}: {reported} is not a dilution 1:N with N from {low:g} to {high:g}",
                       "aav9-titer", when)
            return
        method, kind, where = titer_method(obs)
        remark, remark_kind, flags = titer_remark(obs, parenthesis)
        self.facts.titers.append(Titer(reciprocal, comparator, when, _ref(obs), method, reported, kind, where,
                                       remark, remark_kind, flags, "" if when else reported_date(obs)))
        if when is None:  # shown on the card, but it may be the newest titer: no older one can be taken as latest
            problem = date_problem(stated_date(obs), reported_date(obs))
            reason = f"titer {reported} {problem}: it may be newer than the titer used"
            self.facts.unread.append(Unread(self._source, _ref(obs), reason, "aav9-titer", latest_possible(obs)))

    def _genetics(self, obs: dict, when: date | None) -> None:
        try:
            result, implications = read_genetics(obs, when)
        except UnreadableGenetics as err:
            self._skip(obs, f"SMN1 result not readable: {err}", "genetics", when)
            return
        self._implications.update(implications)
        if result is not None:
            self.facts.genetics.append(result)

    def _finish_genetics(self) -> None:
        """After every Observation is read: significances from implication Observations, empty results out."""
        before = {g.reference for g in self.facts.genetics}
        # by reference: the same results from searches that answer in another order give the same evidence
        self.facts.genetics = sorted(finish(self.facts.genetics, self._implications), key=lambda g: g.reference)
        for ref in sorted(before - {g.reference for g in self.facts.genetics}):
            reason = "SMN1 result without a readable copy number, pathogenic variant or report text"
            self.facts.issues.append(DataIssue(ref, reason))
            self.facts.unread.append(Unread("labs", ref, reason, "genetics"))


def _assessment_value(obs: dict) -> str | None:
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), (int, float)) and not isinstance(q.get("value"), bool):
        return f"{q['value']:g}" + (f" {q['unit']}" if isinstance(q.get("unit"), str) and q["unit"] != "1" else "")
    if isinstance(obs.get("valueInteger"), int) and not isinstance(obs.get("valueInteger"), bool):
        return str(obs["valueInteger"])
    for key in ("valueString",):
        if isinstance(obs.get(key), str) and obs[key].strip():
            return obs[key].strip()[:200]
    concept = obs.get("valueCodeableConcept")
    if isinstance(concept, dict):
        text = _s(concept.get("text")) or next((_s(c.get("display")) for c in concept.get("coding") or ()
                                                 if isinstance(c, dict) and _s(c.get("display"))), "")
        return text[:200] or None
    if obs.get("component"):
        return f"{len(obs['component'])} items recorded"
    return None


def _reference_ranges(obs: dict, analyte: str, unit: str | None) -> tuple[RangeOption, ...]:
    """The reference ranges with a bound, converted like the result (a bound's own unit wins; one without a unit
    only where it cannot be misread: ranges.read_bound), with the ages and populations they are for
    (translate/ranges.py picks the patient's)."""
    options = []
    for rr in obs.get("referenceRange") or ():
        if not isinstance(rr, dict):
            continue
        (low, low_why), (high, high_why) = (read_bound(analyte, side, rr.get(side), unit) for side in ("low", "high"))
        refused = {side: why for side, why in (("low", low_why), ("high", high_why)) if why}
        if low is not None or high is not None or refused:
            options.append(RangeOption(low, high, rr.get("age"), bool(rr.get("appliesTo")), refused))
    return tuple(options)


def _shown_value(resource: dict) -> str:
    """A result's value as written, for a card's reason (escaped where rendered); read defensively (unvalidated)."""
    q = resource.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), (int, float)) and not isinstance(q.get("value"), bool):
        unit = _s(q.get("unit")) or _s(q.get("code"))
        return f"{_s(q.get('comparator'))}{q['value']:g}" + (f" {unit[:20]}" if unit else "")
    concept = resource.get("valueCodeableConcept")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    text = _s(resource.get("valueString")).strip() or (_s(concept.get("text")) if isinstance(concept, dict) else "") \
        or next((_s(c.get("display")) for c in as_list(codings) if isinstance(c, dict) and _s(c.get("display"))), "")
    return text[:40] or "no value yet"


def labelled_as_another(resource: dict, analyte: str) -> tuple[str, str]:
    """(whose, the name saying so) when an Observation's test name or specimen labels it as another person's
    (terminology.OTHER_PERSON_TEXT), else ("", ""). A gestational age at birth is the pregnancy's, the mother's and
    the infant's alike, and an assessment's name may cite a parent's report: neither is checked. Read defensively
    (unvalidated)."""
    if analyte in _SHARED_WITH_MOTHER:
        return "", ""
    code = resource.get("code") if isinstance(resource.get("code"), dict) else _NONE
    specimen = resource.get("specimen") if isinstance(resource.get("specimen"), dict) else _NONE
    labels = [_s(code.get("text"))] + [_s(c.get("display")) for c in as_list(code.get("coding"))
                                       if isinstance(c, dict)] + [_s(specimen.get("display"))]
    for label in labels:
        words = f" {_norm(label)} "
        if any(f" {e} " in words for e in _NOT_ANOTHER):
            continue
        for phrase, whose in _OTHER_PERSON:
            if f" {phrase} " in words:
                return whose, label.strip()[:80]
    return "", ""


_SHARED_WITH_MOTHER = frozenset({"gestational-age", "gestational-age-estimated"}) | t.ASSESSMENT_KINDS
_OTHER_PERSON = tuple((_norm(p), whose) for p, whose in t.OTHER_PERSON_TEXT.items())
_NOT_ANOTHER = tuple(_norm(p) for p in t.OTHER_PERSON_EXCEPT_TEXT)


def _mentions_smn1_component(resource: dict) -> bool:
    for comp in as_list(resource.get("component")):
        if not isinstance(comp, dict):
            continue
        value = comp.get("valueCodeableConcept") if isinstance(comp.get("valueCodeableConcept"), dict) else {}
        codes = {_s(c.get("code")) for c in as_list(value.get("coding")) if isinstance(c, dict)}
        if t.SMN1_GENE.code in codes:
            return True
    return False


def _is_implication(resource: dict) -> bool:
    """A genomics diagnostic-implication Observation: a clinical significance derived from other results."""
    if not as_list(resource.get("derivedFrom")):
        return False
    for comp in as_list(resource.get("component")):
        code = comp.get("code") if isinstance(comp, dict) else None
        codings = as_list(code.get("coding")) if isinstance(code, dict) else []
        if any(isinstance(c, dict) and (c.get("system"), c.get("code")) == t.CLINICAL_SIGNIFICANCE.key
               for c in codings):
            return True
    return False


def analyte_days(resources: list[dict] | None, classify) -> dict[str, set[date | None]]:
    """Per analyte recognised by `classify(Observation.code)` (standard code, local code or name), the effective
    dates of the Observations among `resources` (None: no usable date). Says what a first search found, to
    decide what to read next; never evidence (nothing here is validated)."""
    found: dict[str, set[date | None]] = {}
    for r in resources or ():
        if type(r) is dict and r.get("resourceType") == "Observation":
            analyte = classify(r.get("code"))
            if analyte is None and (_mentions_smn1_component(r) or _is_implication(r)):
                analyte = "genetics"  # as _observation reads it
            if analyte is not None and not labelled_as_another(r, analyte)[0]:  # as _observation: not evidence
                found.setdefault(analyte, set()).add(effective_date(r))
    return found
