"""Which words of a free-text record name a tracheostomy, a ventilator or ventilation (DR.005.D criterion 3), read in
context so that the common look-alikes do not count (review 2026-11-24g G9): "no trach, no vent", "off vent", the
brain's ventricles ("vents not dilated"), a vented G-tube, a "trach aspirate", a ventilation-perfusion mismatch, CPAP
for apnea of prematurity, ventilation at delivery. The value sets are in terminology.py; this module only applies
them. Pure: text in, the words that matched out (quoted on the card, so a reviewer sees why).

The text is read sentence by sentence (split at ";", a line break, or "." / ":" before a space) and, inside a
sentence, clause by clause (also at ","), lower case with punctuation as spaces:
1. phrases that contain a marker but name something else (NOT_RESPIRATORY_PHRASES) are removed from the clause;
2. a marker right after a negation (RESPIRATORY_NEGATIONS, with only NEGATION_FILLERS between) does not count;
3. "vent"/"vents"/"vented" in a clause naming the ventricles (VENTRICLE_CONTEXT) does not count;
4. CPAP, ventilation and intubation in a sentence naming apnea of prematurity or the delivery (NEWBORN_CONTEXT) do
   not count.
A marker that survives gives at most `review`, never a decision."""

from __future__ import annotations

import re

from . import terminology as t

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SENTENCES = re.compile(r"[;\n]|[.:](?=\s|$)")
_CLAUSES = re.compile(r",")


def word_text(text: str) -> str:
    """Lower case, punctuation as spaces, padded with one space: " uti " matches the whole word only (also what
    rules/conditions.py reads condition text with)."""
    return f" {' '.join(_NOT_ALNUM.sub(' ', text.lower()).split())} "


def _alternatives(values) -> str:
    return "|".join(re.escape(word_text(v).strip()) for v in sorted(values, key=len, reverse=True))


_NEGATED = re.compile(rf" (?:{_alternatives(t.RESPIRATORY_NEGATIONS)})(?: (?:{_alternatives(t.NEGATION_FILLERS)}))* $")
_NOT_RESPIRATORY = tuple(word_text(p) for p in t.NOT_RESPIRATORY_PHRASES)
_VENTRICLES = tuple(word_text(p) for p in t.VENTRICLE_CONTEXT)
_NEWBORN = tuple(word_text(p) for p in t.NEWBORN_CONTEXT)
_VENT = tuple(w.strip() for w in t.VENT_WORDS)


def respiratory_words(text: str, phrases: tuple[str, ...], words: tuple[str, ...] = ()) -> list[str]:
    """The markers found in `text` that count, each once, in the order of `phrases` then `words`: `phrases` are
    matched anywhere in a word run ("ventilator dependen" in "ventilator-dependent"), `words` as whole words only
    ("vent", never "ventricular")."""
    found: dict[str, str] = {}  # marker -> the words it matched, as written (normalised)
    markers = [(word_text(p).strip(), False) for p in phrases] + [(w.strip(), True) for w in words]
    for sentence in _SENTENCES.split(text or ""):
        newborn = any(c in word_text(sentence) for c in _NEWBORN)
        for clause in _CLAUSES.split(sentence):
            low = word_text(clause)
            for phrase in _NOT_RESPIRATORY:
                low = low.replace(phrase, " ")
            ventricles = any(c in low for c in _VENTRICLES)
            for marker, whole in markers:
                if marker in found or (ventricles and marker in _VENT) or (
                        newborn and any(w in marker for w in t.NEWBORN_SUPPORT_WORDS)):
                    continue
                needle = f" {marker} " if whole else marker
                for m in re.finditer(re.escape(needle), low):
                    # the whole words the marker was found in ("hypoventilation", "ventilator dependent")
                    start = low.rfind(" ", 0, m.start() + 1) + 1
                    end = low.find(" ", m.end() - (1 if whole else 0))
                    if not _NEGATED.search(low[:start]):
                        found[marker] = low[start:end]
                        break
    spans = list(dict.fromkeys(found.values()))
    return [w for w in spans if not any(w != other and f" {w} " in f" {other} " for other in spans)]
