"""Conditions and procedures: advanced SMA, infection, prior Zolgensma infusions."""

from __future__ import annotations

from .. import terminology as t
from ..facts import ConditionFact, PriorDose
from ..fhir_client import as_list
from .common import _code_keys, _codings, _concept_text, _ref, _s, _start, _to_date, unreadable_concept
from .medications import _names_zolgensma


class ClinicalReader:
    # Conditions -------------------------------------------------------------------------------
    def _condition(self, resource: dict) -> None:
        c = self._valid(resource, "condition")
        if c is None:
            return
        verification = {(x.get("code") or "").lower() for x in _codings(c.get("verificationStatus"))}
        if verification & {"entered-in-error", "refuted"}:
            return
        clinical = {(x.get("code") or "").lower() for x in _codings(c.get("clinicalStatus"))}
        # Active: clinicalStatus active, recurrence or relapse; with no status, active unless abated. An
        # abatement next to an active status breaks FHIR invariant con-4: read as active (the safe side).
        abated = any(c.get(k) is not None for k in ("abatementDateTime", "abatementPeriod", "abatementString"))
        active = bool(clinical & {"active", "recurrence", "relapse"}) or not clinical and not abated
        text = _concept_text(c.get("code"))
        codes = _code_keys(c.get("code"))
        shown = ", ".join(f"{code}" for _, code in sorted(codes))
        self.facts.conditions.append(ConditionFact(
            _ref(c), codes, f"{text} [{shown}]".strip() if shown else text, active,
            _to_date(c.get("onsetDateTime")) or _to_date(_start(c.get("onsetPeriod"))),
            _to_date(c.get("recordedDate"))))

    def _procedure(self, resource: dict) -> None:
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        codings = [c for c in as_list(code.get("coding")) if isinstance(c, dict)]
        codes = {(_s(c.get("system")), _s(c.get("code"))) for c in codings}
        named = _names_zolgensma(" ".join([_s(code.get("text"))] + [_s(c.get("display")) for c in codings]))
        j3399 = any(system in t.HCPCS_SYSTEMS and code == t.J3399.code for system, code in codes)
        if not (j3399 or named):
            if unreadable_concept(resource.get("code")):
                self._skip(resource, "skipped: Procedure.code not readable, so what was done is unknown")
            return
        if resource.get("status") != "completed":
            if type(resource.get("status")) is not str:
                self._skip(resource, "skipped: Procedure.status not readable", "zolgensma")
            return
        p = self._valid(resource, "zolgensma")
        if p is None:
            return
        stated = p.get("performedDateTime") or _start(p.get("performedPeriod"))
        if self._future(stated):
            self._skip(p, f"skipped: dated {stated}, after the current time: not evidence", "zolgensma")
            return
        when = _to_date(stated)
        self.facts.prior_doses.append(PriorDose(_ref(p), when, f"Procedure: {_concept_text(p.get('code'))}"))

