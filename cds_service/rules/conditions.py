"""What an active Condition is evidence of: an infection (criterion 10) or advanced SMA (criterion 3).

Pure: a ConditionFact's codes and text in, a yes/no out. ICD-10-CM codes are compared without their dot and
case ("U07.1", "U071", "u07.1"), by prefix, because ICD-10-CM is a hierarchy whose categories are prefixes.
"""

from __future__ import annotations

import re

from ..facts import ConditionFact, Evidence
from ..terminology import (
    ADVANCED_SMA_CODES,
    ADVANCED_SMA_ICD10_PREFIXES,
    ADVANCED_SMA_TEXT,
    INFECTION_ICD10_PREFIXES,
    INFECTION_SNOMED_CODES,
    INFECTION_TEXT,
    NONINFECTIVE_ICD10_PREFIXES,
    NONINFECTIVE_TEXT,
    PARALYSIS_ICD10_PREFIXES,
    PARALYSIS_TEXT,
    SMA_DIAGNOSES,
    TRACH_WORDS,
    VENT_WORDS,
)

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _dotless(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def _prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_dotless(p) for p in prefixes)


# A negated word and the word it qualifies ("noninfective gastroenteritis", "afebrile seizure") are removed.
_NEGATED = re.compile(rf" (?:{'|'.join(re.escape(n) for n in NONINFECTIVE_TEXT)})(?: [a-z0-9]+)?(?= )")
_INFECTION = _prefixes(INFECTION_ICD10_PREFIXES)
_NONINFECTIVE = _prefixes(NONINFECTIVE_ICD10_PREFIXES)
_PARALYSIS = _prefixes(PARALYSIS_ICD10_PREFIXES)
_VENTILATION = _prefixes(ADVANCED_SMA_ICD10_PREFIXES)


def icd10cm_codes(f: ConditionFact) -> list[str]:
    """The condition's ICD-10-CM codes, dotless and upper case."""
    return [_dotless(code) for system, code in f.codes if system.endswith("icd-10-cm")]


def words(text: str) -> str:
    """Lower case, punctuation as spaces, padded with one space: " uti " matches the whole word only."""
    return f" {' '.join(_NOT_ALNUM.sub(' ', text.lower()).split())} "


def is_infection(f: ConditionFact) -> bool:
    """An infection (or fever) by ICD-10-CM code, SNOMED CT concept, or a word of its display/text.

    A code that is not an infection (K52 noninfective gastroenteritis, B90-B94 sequelae, K65.4, a T-code for a
    sequela) is never one, whatever its words; negated words ("noninfective", "afebrile") are removed first,
    with the word they qualify."""
    icd = icd10cm_codes(f)
    if any(c.startswith(_NONINFECTIVE) or _sequela(c) for c in icd):
        return False
    if f.codes & INFECTION_SNOMED_CODES or any(c.startswith(_INFECTION) for c in icd):
        return True
    text = _NEGATED.sub(" ", words(f.text))
    return any(w in text for w in INFECTION_TEXT)


def _sequela(code: str) -> bool:
    """ICD-10-CM injury codes (chapter 19, S/T) take a seventh character; "S" is the sequela, a late effect."""
    return code[:1] in ("S", "T") and len(code) == 7 and code.endswith("S")


def is_advanced_sma(f: ConditionFact) -> bool:
    """Ventilator dependence, tracheostomy or complete limb paralysis (DR.005.D 3 refers these to review)."""
    if records_ventilation(f) or any(c.startswith(_PARALYSIS) for c in icd10cm_codes(f)):
        return True
    return any(t in f.text.lower() for t in PARALYSIS_TEXT)


def records_ventilation(f: ConditionFact) -> bool:
    """Ventilator dependence or a tracheostomy: by code (SNOMED CT; ICD-10-CM Z99.11, Z93.0, Z43.0, J95.0x by
    prefix), by words, or by the shorthand "trach" / "vent" as whole words ("Trach/vent since 09/2026", never
    "ventricular septal defect")."""
    if f.codes & ADVANCED_SMA_CODES or any(c.startswith(_VENTILATION) for c in icd10cm_codes(f)):
        return True
    whole = words(f.text)
    return any(t in f.text.lower() for t in ADVANCED_SMA_TEXT) or any(w in whole for w in TRACH_WORDS + VENT_WORDS)


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
