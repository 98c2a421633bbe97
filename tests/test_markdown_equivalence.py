"""md() skips its two regexes when a string cannot match them (most card strings): the result must be exactly
what running them always gives (the reference below, md() as it was before that shortcut)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.markdown import _BLOCK_START, _ESCAPE, _TRIGGER, _break_autolink, _break_block, md, one_line


def reference_md(text: object) -> str:
    escaped = _TRIGGER.sub(_break_autolink, one_line(text).translate(_ESCAPE))
    return _BLOCK_START.sub(_break_block, escaped)


# Characters the regexes care about, mixed with letters of the schemes in both cases and odd spaces.
ALPHABET = st.sampled_from(list("wWhHtTpPsSfF.:@#>+=-)0123456789 \t\u00a0\u2003\n\\`*_~[]<>&|aZ\u212a\u017f\u0130"))


@settings(max_examples=3000, deadline=None)
@given(st.text(ALPHABET, max_size=24) | st.text(max_size=24))
def test_md_equals_the_regex_only_reference(text):
    assert md(text) == reference_md(text)


def test_md_examples():
    for text in ["www.evil.example", "HTTP://x", "Ftp:x", "a@b", "  # heading", "1. item", "12) x", "7.2 kg",
                 "- item", "Observation/alt", "", " ", "\u00a0-x", "wwww.x", "httpS://x"]:
        assert md(text) == reference_md(text), text
