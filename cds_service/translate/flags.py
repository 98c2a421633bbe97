"""The lab's own flag on a result, Observation.interpretation (review 2026-11-24f F4): what it says ("positive",
"negative", "normal", "abnormal", "high", "low", "equivocal"), for the rules to compare with the value read. A flag
in an unknown code system with no recognised text says nothing and is left out."""

from __future__ import annotations

from .. import terminology as t
from .common import _codings, _norm, _s


def lab_flags(obs: dict) -> tuple[tuple[str, str], ...]:
    """(the flag as shown, what it says) for each recognised Observation.interpretation."""
    found = []
    for concept in obs.get("interpretation") or ():
        meaning, shown = None, ""
        for c in _codings(concept):
            code = _s(c.get("code"))
            if c.get("system") in t.INTERPRETATION_SYSTEMS and code in t.INTERPRETATION_CODES:
                meaning = t.INTERPRETATION_CODES[code]
                shown = f"{_s(c.get('display')) or meaning} ({code})"
                break
        if meaning is None:
            for text in [_s(concept.get("text"))] + [_s(c.get("display")) for c in _codings(concept)]:
                if _norm(text) in t.INTERPRETATION_TEXT:
                    meaning, shown = t.INTERPRETATION_TEXT[_norm(text)], text.strip()
                    break
        if meaning is not None:
            found.append((shown[:60], meaning))
    return tuple(found)
