"""Free text that may name a prior dose of the therapy: one vocabulary (terminology.PRIOR_DOSE_TEXT) read by every
resource family that may record one: administrations, statements, dispenses, immunizations, orders, procedures,
service requests and conditions (review 2026-11-24g G2: each path had its own list, and each missed what another
caught). Free text never makes a dose: what these functions recognise is a possible prior dose (`review`)."""

from __future__ import annotations

from .. import terminology as t
from .common import _norm


def _says(low: str, phrases) -> bool:
    """A phrase of `phrases` starts a word of `low` (normalised text padded with spaces): "OAV101IT" names OAV101."""
    return any(f" {_norm(p)}" in low for p in phrases)


def _says_word(low: str, words) -> bool:
    """A whole word (or words) of `words` in `low`."""
    return any(f" {_norm(w)} " in low for w in words)


def therapy_named(text: str) -> str | None:
    """'product' (Zolgensma, or the same vector under another name: Itvisma, AVXS-101, OAV101), 'gene-therapy' (a gene
    therapy, AAV9, not naming the product) or None."""
    low = f" {_norm(text)} "
    return next((name for name, words in t.PRIOR_DOSE_TEXT if _says(low, words)), None)


def names_same_vector(text: str) -> bool:
    """Names onasemnogene abeparvovec under any name (Itvisma, AVXS-101, OAV101, any suffix): for ruling out a prior
    dose of the same vector only, never for identifying the product ordered (terminology.SAME_VECTOR_TEXT)."""
    return _says(f" {_norm(text)} ", t.SAME_VECTOR_TEXT)


def gene_therapy_given(text: str, codes: set | frozenset = frozenset()) -> bool:
    """The text of a record of an act (a procedure, a service request, a medication record) says the therapy was
    given: it names it (therapy_named), and either says it was given (infusion, administered: INFUSION_TEXT; or the
    code is an infusion's, INFUSION_PROCEDURES) or names no activity around it (a consult, an AAV9 antibody test:
    NOT_ADMINISTRATION_TEXT). "SMN1" alone is not a gene therapy."""
    low = f" {_norm(text)} "
    if therapy_named(text) is None:
        return False
    if codes & t.INFUSION_PROCEDURES or _says_word(low, t.INFUSION_TEXT):
        return True
    return not _says_word(low, t.NOT_ADMINISTRATION_TEXT)


def act_names_dose(text: str, codes: set | frozenset = frozenset()) -> str | None:
    """What a record of an act (administration, statement, dispense, immunization, order, procedure, service request)
    that does not identify Zolgensma by code may be a dose of: 'product' when it names the vector under another name
    (whatever else it says: review 2026-11-24e T4) or names the product or a gene therapy as given; 'gene-therapy'
    when it names a gene therapy only; else None."""
    named = therapy_named(text)
    if named is None:
        return None
    if names_same_vector(text) or gene_therapy_given(text, codes):
        return named
    return None


def condition_names_dose(text: str) -> str | None:
    """What a Condition's words (code, display, note) may record a dose of. A problem-list entry is a state, not an
    act: one naming the product or vector ("S/p Zolgensma infusion 03/2026", "Zolgensma-induced hepatitis") is read
    as a possible dose unless it says the therapy is only planned or considered (DOSE_NOT_GIVEN_TEXT,
    NOT_ADMINISTRATION_TEXT: "Zolgensma planned") with no word saying it was given (DOSE_HISTORY_TEXT); one naming a
    gene therapy only, when a history word says it was given and nothing denies it ("History of SMN1 gene
    replacement therapy", not "SMA type 1, gene therapy candidate")."""
    named = therapy_named(text)
    if named is None:
        return None
    low = f" {_norm(text)} "
    history = _says_word(low, t.DOSE_HISTORY_TEXT)
    denied = _says_word(low, t.DOSE_NOT_GIVEN_TEXT + t.NOT_ADMINISTRATION_TEXT)
    if named == "gene-therapy":
        return named if history and not denied else None
    return named if history or not denied else None
