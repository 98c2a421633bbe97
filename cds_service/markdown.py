"""Text from patient data, made safe for card markdown (`detail`) and plain-text fields (`summary`, labels).

CDS Hooks renders `detail` as GitHub-flavoured markdown; clients such as the CDS Hooks sandbox (react-markdown
with raw HTML) turn `<img src=...>` in it into a real element. Every data-derived string (an Observation's
method or unit, a Location's name, a resource id, ...) therefore goes through `md()` before it joins a
template. CommonMark 2.4 lets any ASCII punctuation be backslash-escaped, and it then stands for itself. We
escape every character that can open something in the middle of a line: code spans, emphasis, strikethrough,
links and images, raw HTML and autolinks, entities, table pipes (and the backslash itself); GFM's bare
autolinks (`www.`, `http:`, `user@host`) are broken at their trigger; a leading `#`, `>`, `-`, `+`, `=` or
`1.` cannot open a block; line breaks become spaces, so nothing can start a new block or table row. Dates,
ratios like 1:25 and references like Observation/alt-1 stay unescaped, so the JSON stays readable.
Card wording from cards/ is trusted markdown and is not escaped.
"""

from __future__ import annotations

import re
import string

_ESCAPE = {ord(c): "\\" + c for c in "\\`*_~[]<>&|"}
_NEEDS_ESCAPE = re.compile(r"[\\`*_~\[\]<>&|]")  # str.translate with _ESCAPE is slow per character: only if needed
# Line breaks and control characters; and the Unicode bidirectional controls (embeddings, overrides, isolates,
# marks), which make text render in another order than it is read ("ELISA \u202eTON" shows as "ELISA NOT").
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
# An HTML tag's opening in plain text: some EHRs render a summary as HTML. A comparator ("<1:25", "<=50") is not
# one and stays as written.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_TRIGGER = re.compile(  # www. http: https: ftp: and any @
    r"(?i)(www|https?|ftp)?([.:@])")
_BLOCK_START = re.compile(r"^(\s*)([#>+=-])|^(\s*[0-9]+)([.)])(?=\s|$)")


def plain(text: object) -> str:
    """One line of plain text (summaries, labels): control characters, bidirectional controls and line breaks
    become one space, and a "<" that would open an HTML tag is followed by a space."""
    text = one_line(text)
    return _TAG_OPEN.sub("< ", text) if "<" in text else text


def one_line(text: object) -> str:
    """`text` on one line: control characters, bidirectional controls and line breaks become one space."""
    text = str(text)
    # Most text has none (a card renders dozens of strings): every character _BREAKS matches is one that
    # str.isprintable rejects, so a printable string is already one clean line.
    return text if text.isprintable() else _BREAKS.sub(" ", text)


def _break_autolink(m: re.Match) -> str:
    scheme, trigger = m.group(1), m.group(2)
    return f"{scheme or ''}\\{trigger}" if scheme or trigger == "@" else m.group(0)


def _break_block(m: re.Match) -> str:
    return f"{m.group(1)}\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"


# What the two regexes need to find before they can change anything, checked first because most card strings
# have neither (a card renders dozens): _TRIGGER changes only an "@" or a trigger after www/http/ftp (any case:
# only the ASCII letters themselves fold to w, h, t, p, f), _BLOCK_START only a string whose first non-space
# character (`\s` is str.isspace) is one of these.
_BLOCK_FIRST = frozenset("#>+=-0123456789")


def md(text: object) -> str:
    """`text` as literal markdown, on one line (its "<" escaped like the rest)."""
    escaped = one_line(text)
    if _NEEDS_ESCAPE.search(escaped):
        escaped = escaped.translate(_ESCAPE)
    if "@" in escaped or _has_scheme(escaped.lower()):
        escaped = _TRIGGER.sub(_break_autolink, escaped)
    if escaped.lstrip()[:1] in _BLOCK_FIRST:
        escaped = _BLOCK_START.sub(_break_block, escaped)
    return escaped


def _has_scheme(lower: str) -> bool:
    return "www" in lower or "http" in lower or "ftp" in lower


def md_params(params: dict) -> dict:
    """Template parameters for markdown: strings escaped; numbers are formatted by the template itself."""
    return {k: md(v) if isinstance(v, str) else v for k, v in params.items()}


_UNESCAPE = re.compile(r"\\([" + re.escape(string.punctuation) + "])")


def unescape(text: str) -> str:
    """Markdown backslash escapes removed (what a reader sees); for tests and logs."""
    return _UNESCAPE.sub(r"\1", text)
