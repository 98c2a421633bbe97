"""`zolgensma-packet`: a FHIR Bundle or NDJSON export in, packets and outcomes out; bad records reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_fake import FIXTURES, load

from cds_service.packet.cli import main

TODAY = ["--today", "2026-11-23"]


def _items(items):
    out = {}
    for item in items:
        out[item["linkId"]] = item
        out.update(_items(item.get("item", [])))
    return out


def test_one_bundle_writes_packet_html_and_outcome(tmp_path, capsys):
    assert main([str(FIXTURES / "eligible-infant.json"), "--out", str(tmp_path), *TODAY]) == 0
    bundle = json.loads((tmp_path / "eligible-infant.packet.json").read_text())
    Bundle.model_validate(bundle)
    outcome = json.loads((tmp_path / "eligible-infant.outcome.json").read_text())
    # the same answer the hook gives for this record (tests/test_scenarios.py)
    assert outcome["overall"] == "eligible" and outcome["asOf"] == "2026-12-01"
    assert {c["status"] for c in outcome["criteria"]} == {"met"}
    page = (tmp_path / "eligible-infant.packet.html").read_text()
    assert "Zolgensma prior-authorization packet" in page and "eligible" in page
    assert "eligible-infant: eligible" in capsys.readouterr().out


def test_planned_date_replaces_the_orders(tmp_path):
    assert main([str(FIXTURES / "eligible-infant.json"), "--out", str(tmp_path), "--planned-date", "2026-12-20",
                 *TODAY]) == 0
    outcome = json.loads((tmp_path / "eligible-infant.outcome.json").read_text())
    assert outcome["asOf"] == "2026-12-20"
    # 2026-11-20 titer is 30 days before the new date: past the guide's 2-week window
    assert {c["id"]: c["status"] for c in outcome["criteria"]}["aav9-titer"] == "unknown"


def test_planned_date_without_an_order_never_guesses_the_dose(tmp_path):
    record = [r for r in load("eligible-infant") if r.get("id") != "zolgensma-order"]
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in record]}))
    assert main([str(path), "--out", str(tmp_path), *TODAY]) == 1  # neither an order nor a date
    assert main([str(path), "--out", str(tmp_path), "--planned-date", "2026-12-01", *TODAY]) == 0
    outcome = json.loads((tmp_path / "eligible-infant.outcome.json").read_text())
    statuses = {c["id"]: c["status"] for c in outcome["criteria"]}
    assert statuses["dose-within-label"] == "unknown" and outcome["overall"] == "incomplete"
    answers = _items(json.loads((tmp_path / "eligible-infant.packet.json").read_text())["entry"][0]["resource"]["item"])
    assert "answer" not in answers["dose-within-label.answer"]


def test_an_order_naming_its_medication_by_reference_is_found(tmp_path):
    record = load("eligible-infant")
    order = next(r for r in record if r["id"] == "zolgensma-order")
    medication = {"resourceType": "Medication", "id": "kit", "code": order.pop("medicationCodeableConcept")}
    order["medicationReference"] = {"reference": "Medication/kit"}
    path = tmp_path / "record.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in record + [medication]) + "\n")
    assert main([str(path), "--out", str(tmp_path / "o"), "--quiet", *TODAY]) == 0
    line = json.loads((tmp_path / "o" / "outcomes.ndjson").read_text())
    assert line["outcome"]["overall"] == "eligible" and line["outcome"]["order"] == "MedicationRequest/zolgensma-order"


def _export(tmp_path: Path, extra_lines: list[bytes]) -> Path:
    lines = [json.dumps(r).encode() for name in ("eligible-infant", "missing-labs") for r in load(name)]
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"\n".join(lines[:5] + extra_lines + lines[5:]) + b"\n")
    return path


HOSTILE = [
    b"{not json",
    b"[1, 2]",
    b'{"resourceType": "Observation", "id": "bad-utf8", "status": "\xff\xfe"}',
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"resourceType": "Observation", "id": "orphan", "status": "final"}).encode(),
    json.dumps({"resourceType": "Patient", "id": "../../escape"}).encode(),
    json.dumps({"resourceType": "MedicationRequest", "id": "z", "status": "draft", "intent": "order",
                "subject": {"reference": "Patient/../../escape"},
                "medicationCodeableConcept": {"text": "Zolgensma"}}).encode(),
]


def test_batch_keeps_going_past_hostile_records_and_reports_them(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(_export(tmp_path, HOSTILE)), "--out", str(out), *TODAY]) == 1
    lines = [json.loads(line) for line in (out / "outcomes.ndjson").read_text().splitlines()]
    done = {line["patient"]: line["outcome"] for line in lines if "outcome" in line}
    assert set(done) == {"Patient/eligible-infant", "Patient/missing-labs"}
    # The unreadable lines could have been anyone's: no "none on record" conclusion rests on the export.
    for outcome in done.values():
        statuses = {c["id"]: c["status"] for c in outcome["criteria"]}
        assert outcome["overall"] == "incomplete"
        assert statuses["no-advanced-sma"] == statuses["no-active-infection"] == statuses["one-time-dose"] == "unknown"
    problems = [line["problem"] for line in lines if "problem" in line]
    assert sum("not JSON" in p for p in problems) == 3 and any("not a FHIR resource" in p for p in problems)
    assert any("Observation belongs to no Patient" in p for p in problems)
    assert any("not a valid FHIR id" in p for p in problems)
    packets = [json.loads(line) for line in (out / "packets.ndjson").read_text().splitlines()]
    assert len(packets) == 2
    for bundle in packets:
        Bundle.model_validate(bundle)
    assert sorted(p.name for p in (out / "html").iterdir()) == ["eligible-infant.html", "missing-labs.html"]
    assert not (tmp_path / "escape").exists() and not list(tmp_path.parent.glob("escape*"))
    err = capsys.readouterr().err
    assert "Patient/missing-labs: incomplete" in err
    assert "2 packets written" in err


def test_batch_without_bad_lines_gives_the_hooks_answers(tmp_path):
    out = tmp_path / "out"
    assert main([str(_export(tmp_path, [])), "--out", str(out), "--quiet", *TODAY]) == 0
    lines = [json.loads(line) for line in (out / "outcomes.ndjson").read_text().splitlines()]
    assert {line["patient"]: line["outcome"]["overall"] for line in lines} == {
        "Patient/eligible-infant": "eligible", "Patient/missing-labs": "incomplete"}


def test_ndjson_of_bundles_is_one_record_a_line(tmp_path):
    lines = [(FIXTURES / f"{n}.json").read_text().replace("\n", "") for n in ("titer-1-100", "missing-genetics")]
    path = tmp_path / "bundles.ndjson"
    path.write_text("\n".join(lines) + "\n")
    assert main([str(path), "--out", str(tmp_path / "o"), "--quiet", *TODAY]) == 0
    lines = [json.loads(line) for line in (tmp_path / "o" / "outcomes.ndjson").read_text().splitlines()]
    assert {line["patient"]: line["outcome"]["overall"] for line in lines} == {
        "Patient/titer-1-100": "not-eligible", "Patient/missing-genetics": "incomplete"}


@pytest.mark.parametrize("argv", [["--out", "x"], ["missing-file.json", "--out", "{tmp}"],
                                  ["{fixture}", "--out", "{tmp}", "--planned-date", "next week"]])
def test_bad_arguments(argv, tmp_path):
    argv = [a.format(tmp=tmp_path, fixture=FIXTURES / "eligible-infant.json") for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2


def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "zolgensma-packet"
    result = subprocess.run([str(script), str(FIXTURES / "missing-labs.json"), "--out", str(tmp_path), *TODAY],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "missing-labs: incomplete" in result.stdout
    assert (tmp_path / "missing-labs.packet.html").exists()
