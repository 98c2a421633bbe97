"""The packet for a reviewer: one HTML page read top to bottom, rendered from the Bundle alone (so a stored
or exported packet renders the same). Every piece of data is escaped. Print it from the browser for paper
or PDF (a print stylesheet is included)."""

from __future__ import annotations

from html import escape

from .questionnaire import UNANSWERED_REASON

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:72em;color:#111}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f2f2f2} code{font-size:.9em} .muted{color:#555}
.outcome{display:inline-block;padding:.2em .6em;border-radius:.3em;font-weight:600}
.eligible,.met{background:#d8f0d8} .incomplete,.unknown{background:#fff1c2}
.needs-review,.review{background:#ffe0b3} .not-eligible,.not-met{background:#f8d0d0}
.unanswered{color:#8a4b00} dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em} dt{font-weight:600}
@media print{body{margin:0;max-width:none;font-size:11px} a{color:inherit;text-decoration:none}
tr{page-break-inside:avoid}}
"""


def render_html(bundle: dict, text: dict) -> str:
    """`text`: cards/packet.json (headings and the disclaimer)."""
    resources = [e.get("resource") or {} for e in bundle.get("entry", [])]
    response = next(r for r in resources if r.get("resourceType") == "QuestionnaireResponse")
    questionnaire = next((r for r in resources if r.get("resourceType") == "Questionnaire"), {"item": []})
    answers = _by_link_id(response.get("item", []))
    definitions = _by_link_id(questionnaire.get("item", []))
    words = text["render"]

    def answer_html(link_id: str, brief: str = "") -> str:
        """The answers, or why there is none (`brief` instead when the table says why next to it)."""
        item = answers.get(link_id)
        if item is None:
            return '<span class="unanswered">not in the response</span>'
        values = item.get("answer") or []
        if not values:
            reason = next((e.get("valueString") for e in item.get("extension", [])
                           if e.get("url") == UNANSWERED_REASON), "")
            return f'<span class="unanswered">{escape(brief or "Not answered: " + str(reason or ""))}</span>'
        return "<br>".join(_value(v) for v in values)

    def first(link_id: str, key: str):
        values = (answers.get(link_id) or {}).get("answer") or [{}]
        return values[0].get(key)

    overall = (first("context.overall", "valueCoding") or {}).get("code", "")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{escape(words['heading'])}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>{escape(words['heading'])}</h1>", f'<p class="muted">{escape(words["disclaimer"])}</p>',
           "<dl>",
           _row("Patient", f"<code>{escape(str((response.get('subject') or {}).get('reference', '')))}</code>"),
           _row(_title(definitions, "context.order"), answer_html("context.order")),
           _row(_title(definitions, "context.planned-date"), answer_html("context.planned-date")),
           _row(_title(definitions, "context.as-of"),
                f"{answer_html('context.as-of')} ({escape(str(first('context.as-of-basis', 'valueString') or ''))})"),
           _row(_title(definitions, "context.overall"),
                f'<span class="outcome {escape(overall)}">{escape(overall)}</span>'),
           _row("Prepared", f"{escape(str(bundle.get('timestamp', '')))}; questionnaire "
                            f"<code>{escape(str(response.get('questionnaire', '')))}</code>"),
           "</dl>"]

    criteria = (definitions.get("criteria") or {}).get("item", [])
    missing = [c for c in criteria if not (answers.get(f"{c['linkId']}.answer") or {}).get("answer")]
    documentation = (definitions.get("documentation") or {}).get("item", [])
    missing_docs = [d for d in _leaves(documentation) if not (answers.get(d["linkId"]) or {}).get("answer")]
    out.append(f"<h2>{escape(words['missingHeading'])}</h2>")
    if missing or missing_docs:
        out.append("<ul>")
        out += [f"<li><b>{escape(c.get('prefix', ''))}. {escape(c['text'])}</b>: "
                f"{answer_html(c['linkId'] + '.reason')}</li>" for c in missing]
        out += [f"<li>{escape(d['text'])}: {answer_html(d['linkId'])}</li>" for d in missing_docs]
        out.append("</ul>")
    else:
        out.append(f"<p>{escape(words['noMissing'])}</p>")

    out += [f"<h2>{escape(_title(definitions, 'criteria'))}</h2>",
            "<table><tr><th>#</th><th>Criterion (source)</th><th>Question and answer</th><th>Assessment</th>"
            "<th>Why</th><th>Evidence</th></tr>"]
    for c in criteria:
        cid = c["linkId"]
        status = (first(f"{cid}.status", "valueCoding") or {})
        question = (definitions.get(f"{cid}.answer") or {}).get("text", "")
        out.append(
            f"<tr><td>{escape(c.get('prefix', ''))}</td><td>{escape(c['text'])}</td>"
            f"<td>{escape(question)}<br><b>{answer_html(cid + '.answer', 'Not answered (see why)')}</b></td>"
            f'<td class="{escape(str(status.get("code", "")))}">{escape(str(status.get("display", "")))}</td>'
            f"<td>{answer_html(cid + '.reason')}</td><td>{answer_html(cid + '.evidence', 'none cited')}</td></tr>")
    out.append("</table>")

    out.append(f"<h2>{escape(_title(definitions, 'documentation'))}</h2><table>")
    for d in documentation:
        if d.get("type") == "group":
            out.append(f'<tr><th colspan="2">{escape(d["text"])}</th></tr>')
            out += [f"<tr><td>{escape(leaf['text'])}</td><td>{answer_html(leaf['linkId'])}</td></tr>"
                    for leaf in d.get("item", [])]
        else:
            out.append(f"<tr><th>{escape(d['text'])}</th><td>{answer_html(d['linkId'])}</td></tr>")
    out.append("</table>")

    issues = (answers.get("data-issues.item") or {}).get("answer") or []
    if issues:
        out.append(f"<h2>{escape(_title(definitions, 'data-issues'))}</h2><ul>")
        out += [f"<li>{escape(str(v.get('valueString', '')))}</li>" for v in issues]
        out.append("</ul>")
    included = [r for r in resources if r.get("resourceType") not in ("QuestionnaireResponse", "Questionnaire")]
    out.append(f"<h2>Evidence resources in this packet ({len(included)})</h2><p>")
    out.append(", ".join(f"<code>{escape(str(r.get('resourceType')))}/{escape(str(r.get('id')))}</code>"
                         for r in included) or "none")
    out.append("</p></body></html>")
    return "\n".join(out)


def _by_link_id(items: list[dict]) -> dict[str, dict]:
    out = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("linkId"), str):
            out[item["linkId"]] = item
            out.update(_by_link_id(item.get("item") or []))
    return out


def _leaves(items: list[dict]) -> list[dict]:
    return [leaf for i in items for leaf in (_leaves(i.get("item", [])) if i.get("type") == "group" else [i])]


def _title(definitions: dict, link_id: str) -> str:
    return (definitions.get(link_id) or {}).get("text", link_id)


def _row(label: str, value_html: str) -> str:
    return f"<dt>{escape(label)}</dt><dd>{value_html}</dd>"


def _value(v: dict) -> str:
    if "valueBoolean" in v:
        return "Yes" if v["valueBoolean"] is True else "No"
    if "valueReference" in v:
        ref = v["valueReference"] or {}
        shown = f"<code>{escape(str(ref.get('reference', '')))}</code>"
        return shown + (f": {escape(str(ref['display']))}" if ref.get("display") else "")
    if "valueCoding" in v:
        coding = v["valueCoding"] or {}
        return escape(str(coding.get("display") or coding.get("code") or ""))
    if "valueQuantity" in v:
        q = v["valueQuantity"] or {}
        return escape(f"{q.get('value', '')} {q.get('unit', '')}".strip())
    for key in ("valueDate", "valueString", "valueInteger", "valueDecimal", "valueDateTime"):
        if key in v:
            return escape(str(v[key]))
    return ""
