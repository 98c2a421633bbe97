"""The AAV9 antibody titer's value and method as a lab writes them: "1:25", "<1:25", a ratio, a quantity in
titer units; the assay (ELISA or another) from Observation.method or the test's name. Parse leniently: the
reader (observations.py) decides strictly what a value it could not read means."""

from __future__ import annotations

import re

from .. import terminology as t
from ..quantities import split_titer_string
from .common import _NONE, _codings, _concept_text, _norm, _s
from .flags import lab_flags


def titer_value(obs: dict) -> tuple[float, str, str, str]:
    """(reciprocal, comparator, value as reported, the parenthesis after a written dilution or "")."""
    text = obs.get("valueString")
    if text:
        reciprocal, comparator, parenthesis = split_titer_string(text)
        return reciprocal, comparator, text.strip(), parenthesis
    text = _concept_text(obs.get("valueCodeableConcept"))
    if text:
        reciprocal, comparator, parenthesis = split_titer_string(text)
        return reciprocal, comparator, text, parenthesis
    ratio = obs.get("valueRatio")
    if ratio is not None:
        num, den = ratio.get("numerator") or _NONE, ratio.get("denominator") or _NONE
        if not num.get("value") or den.get("value") is None:
            raise ValueError("ratio without numerator/denominator")
        reciprocal = float(den["value"]) / float(num["value"])
        comparator = num.get("comparator") or den.get("comparator") or "="
        return reciprocal, comparator, f"{comparator if comparator != '=' else ''}1:{reciprocal:g}", ""
    q = obs.get("valueQuantity") or _NONE
    if q.get("value") is not None:
        value = float(q["value"])
        unit = (q.get("code") or q.get("unit") or "").lower()
        if "titer" in unit or "titre" in unit or unit in ("{dilution}", "dilution"):
            comparator = q.get("comparator") or "="
            return value, comparator, f"{comparator if comparator != '=' else ''}1:{value:g}", ""
        raise ValueError(f"quantity {q['value']} {unit or '(no unit)'} is not a titer")
    raise ValueError("no value")


def method_kind(text: str) -> str | None:
    words = f" {_norm(text)} "
    for phrase in _CLIA_CERTIFIED:
        words = words.replace(f" {phrase} ", " ")
    elisa = any(f" {m} " in words for m in _ELISA)
    other = any(f" {m} " in words for m in _NOT_ELISA)
    # "non-ELISA", "not ELISA", "ELISA not performed": a negated ELISA is never ELISA (review 2026-11-24b A4).
    negated = any(f" {n} {m} " in words for n in _NEGATIONS for m in _ELISA) or \
        any(f" {m} not " in words for m in _ELISA)
    return "other" if other or negated else "elisa" if elisa else None


_ELISA = tuple(_norm(m) for m in t.ELISA_METHOD_TEXT)
_NOT_ELISA = tuple(_norm(m) for m in t.NOT_ELISA_METHOD_TEXT)
_CLIA_CERTIFIED = tuple(_norm(m) for m in t.CLIA_CERTIFICATION_TEXT)
_NEGATIONS = ("non", "not", "no", "not an", "not by", "without", "other than", "instead of")




def titer_method(obs: dict) -> tuple[str | None, str | None, str]:
    """(method as written, 'elisa' | 'other' | None, where it was read). Observation.method first; without
    one, the test's own code display and name, where labs often put the assay ("AAV9 NAb titer")."""
    method = obs.get("method")
    stated = " ".join(x for x in [_s((method or _NONE).get("text"))] + [
        _s(c.get("display")) for c in _codings(method)] if x)
    if stated:
        return _concept_text(method) or stated, method_kind(stated), "Observation.method"
    code = obs["code"]
    for text in [_s(code.get("text"))] + [_s(c.get("display")) for c in _codings(code)]:
        kind = method_kind(text)
        if kind:
            return text, kind, "test name"
    return None, None, ""


def titer_remark(obs: dict, parenthesis: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(remark quoted, its kind, the lab's flags) from the parenthesis after the dilution, the notes (review
    2026-11-24f F2) and Observation.interpretation (F4). A known qualifier ("negative", "result confirmed") is
    read as a flag or nothing; any other parenthesis is a comment ("specimen" when it says the specimen was unfit);
    a note counts only when it says the specimen was unfit or points at a repeat, an addendum or another dilution."""
    # Observation.interpretation as a titer reads it: "normal" is below the lab's reference (no antibodies at its
    # lowest dilution, as "negative"), "abnormal" above it (as "positive"); "low" says nothing about a titer.
    flags = tuple((shown, _AS_TITER[meaning]) for shown, meaning in lab_flags(obs) if meaning in _AS_TITER)
    if parenthesis:
        words = _norm(parenthesis)
        if words in t.TITER_QUALIFIERS:
            meaning = t.TITER_QUALIFIERS[words]
            flags += ((parenthesis, meaning),) if meaning else ()
        else:
            return parenthesis, "specimen" if _says(words, _SPECIMEN) else "comment", flags
    for note in obs.get("note") or ():
        text = _s(note.get("text")).strip()
        words = _norm(text)
        if not words or words in t.TITER_QUALIFIERS:
            continue
        if _says(words, _SPECIMEN):
            return text, "specimen", flags
        if _says(words, _NOTE_REVIEW) or _ANOTHER_DILUTION.search(text):
            return text, "note", flags
    return "", "", flags


def _says(words: str, phrases: tuple[str, ...]) -> bool:
    padded = f" {words} "
    return any(f" {p} " in padded for p in phrases)


_AS_TITER = {"positive": "positive", "abnormal": "positive", "high": "high", "negative": "negative",
             "normal": "negative", "equivocal": "equivocal"}
_SPECIMEN = tuple(_norm(p) for p in t.TITER_SPECIMEN_PROBLEM_TEXT)
_NOTE_REVIEW = tuple(_norm(p) for p in t.TITER_NOTE_REVIEW_TEXT)
# A dilution named in a note ("Titer >1:50 on repeat"): another result than the value it annotates.
_ANOTHER_DILUTION = re.compile(r"\b1\s*[:/]\s*\d")
