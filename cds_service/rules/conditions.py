"""What an active Condition is evidence of: an infection (criterion 10) or advanced SMA (criterion 3).

Pure: a ConditionFact's codes and text in, a yes/no out. ICD-10-CM codes are compared without their dot and
case ("U07.1", "U071", "u07.1"), by prefix, because ICD-10-CM is a hierarchy whose categories are prefixes.
"""

from __future__ import annotations

import re

from ..facts import ConditionFact, Evidence
from ..respiratory_text import respiratory_words, word_text
from ..terminology import (
    ADVANCED_SMA_CODES,
    ADVANCED_SMA_ICD10_PREFIXES,
    ADVANCED_SMA_TEXT,
    ADVANCED_SMA_WHO_ICD10_PREFIXES,
    ICD10_WHO,
    ICD10CM,
    INFECTION_ICD10_PREFIXES,
    INFECTION_SNOMED_CODES,
    INFECTION_TEXT,
    INFECTION_WHO_ICD10_PREFIXES,
    NONINFECTIVE_ICD10_PREFIXES,
    NONINFECTIVE_TEXT,
    PARALYSIS_ICD10_PREFIXES,
    PARALYSIS_TEXT,
    PARALYSIS_WHO_ICD10_PREFIXES,
    SMA_DIAGNOSES,
    TRACH_WORDS,
    VENT_WORDS,
)


def _dotless(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def _prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_dotless(p) for p in prefixes)


# A negated word and the word it qualifies ("noninfective gastroenteritis", "afebrile seizure") are removed.
_NEGATED = re.compile(rf" (?:{'|'.join(re.escape(n) for n in NONINFECTIVE_TEXT)})(?: [a-z0-9]+)?(?= )")
_NONINFECTIVE = _prefixes(NONINFECTIVE_ICD10_PREFIXES)
# Per ICD-10 system (the translator has read every alias of each as its canonical URI): the prefixes that mean an
# infection, complete paralysis, ventilator dependence or a tracheostomy. WHO ICD-10 codes are read by their own
# prefixes (Z99.1, not ICD-10-CM's Z99.11; review 2026-11-24g G1).
_INFECTION = {ICD10CM: _prefixes(INFECTION_ICD10_PREFIXES), ICD10_WHO: _prefixes(INFECTION_WHO_ICD10_PREFIXES)}
_PARALYSIS = {ICD10CM: _prefixes(PARALYSIS_ICD10_PREFIXES), ICD10_WHO: _prefixes(PARALYSIS_WHO_ICD10_PREFIXES)}
_VENTILATION = {ICD10CM: _prefixes(ADVANCED_SMA_ICD10_PREFIXES), ICD10_WHO: _prefixes(ADVANCED_SMA_WHO_ICD10_PREFIXES)}


def _icd10_under(f: ConditionFact, prefixes: dict[str, tuple[str, ...]]) -> bool:
    """Any ICD-10-CM or WHO ICD-10 code of the condition under one of its system's prefixes."""
    return any(system in prefixes and _dotless(code).startswith(prefixes[system]) for system, code in f.codes)


def is_infection(f: ConditionFact) -> bool:
    """An infection (or fever) by ICD-10-CM code, SNOMED CT concept, or a word of its display/text.

    A code that is not an infection (K52 noninfective gastroenteritis, B90-B94 sequelae, K65.4, a T-code for a
    sequela) is never one, whatever its words; negated words ("noninfective", "afebrile") are removed first,
    with the word they qualify."""
    icd = [_dotless(code) for system, code in f.codes if system in (ICD10CM, ICD10_WHO)]
    if any(c.startswith(_NONINFECTIVE) or _sequela(c) for c in icd):
        return False
    if f.codes & INFECTION_SNOMED_CODES or _icd10_under(f, _INFECTION):
        return True
    text = _NEGATED.sub(" ", word_text(f.text))
    return any(w in text for w in INFECTION_TEXT)


def _sequela(code: str) -> bool:
    """ICD-10-CM injury codes (chapter 19, S/T) take a seventh character; "S" is the sequela, a late effect."""
    return code[:1] in ("S", "T") and len(code) == 7 and code.endswith("S")


def is_advanced_sma(f: ConditionFact) -> bool:
    """Ventilator dependence, tracheostomy or complete limb paralysis (DR.005.D 3 refers these to review)."""
    return records_ventilation(f) or _icd10_under(f, _PARALYSIS) or bool(_paralysis_words(f))


def records_ventilation(f: ConditionFact) -> bool:
    """Ventilator dependence or a tracheostomy: by code (SNOMED CT; ICD-10-CM Z99.11, Z93.0, Z43.0, J95.0x, WHO
    ICD-10 Z99.1 ..., by prefix), or by words of its name or note read in context (respiratory_text: "Trach/vent
    since 09/2026", never "ventricular septal defect", "no trach, no vent" or "vents not dilated")."""
    return bool(f.codes & ADVANCED_SMA_CODES or _icd10_under(f, _VENTILATION) or _ventilation_words(f))


def _ventilation_words(f: ConditionFact) -> dict[str, list[str]]:
    """The respiratory words that count, in the condition's name and in its note (each only where found)."""
    found = {part: respiratory_words(text, ADVANCED_SMA_TEXT, TRACH_WORDS + VENT_WORDS)
             for part, text in (("name", f.text), ("note", f.note))}
    return {part: w for part, w in found.items() if w}


def _paralysis_words(f: ConditionFact) -> list[str]:
    return [p for p in PARALYSIS_TEXT if p in f.text.lower() or p in f.note.lower()]


def advanced_sma_evidence(f: ConditionFact) -> Evidence:
    """The condition's evidence with what made it advanced SMA when words did: the words that matched, quoted, and
    the note they were found in (review 2026-11-24g G9: a reviewer seeing only the reference cannot tell why)."""
    shown, found = f.evidence, _ventilation_words(f)
    words_found = found.get("name", []) + found.get("note", []) + _paralysis_words(f)
    if not words_found or f.codes & ADVANCED_SMA_CODES or _icd10_under(f, _VENTILATION):
        return shown
    note = f'; note: "{_clip(f.note)}"' if "note" in found or any(p in f.note.lower() for p in PARALYSIS_TEXT) else ""
    quoted = ", ".join(f'"{w}"' for w in dict.fromkeys(words_found))
    return Evidence(shown.reference, f"{shown.text}{note}; words that matched: {quoted}", shown.quote)


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "..."


def refuted_sma(conditions: list[ConditionFact], refuted: list[ConditionFact]) -> list[Evidence]:
    """The SMA diagnoses a clinician marked refuted, when no SMA diagnosis on record stands (confirmed, or no
    verification status stated): that refutation contradicts a bi-allelic genetic result (DR.005.D 2, "a documented
    diagnosis of SMA"). A refuted SMA type beside a standing one (G12.1 refuted, G12.0 confirmed) refines the type:
    no contradiction. An unconfirmed, provisional or differential diagnosis does not stand against a refutation."""
    standing = [f for f in conditions if f.codes & SMA_DIAGNOSES and f.verification in ("", "confirmed")]
    if standing:
        return []
    return [Evidence(f.reference, f"{f.evidence.text}; verification status refuted")
            for f in refuted if f.codes & SMA_DIAGNOSES]
