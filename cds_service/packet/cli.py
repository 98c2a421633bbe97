"""`zolgensma-packet`: the prior-authorization packet from an exported record, without an EHR.

    zolgensma-packet RECORD.json  --planned-date 2026-12-01 --out DIR   # one patient's FHIR Bundle
    zolgensma-packet EXPORT.ndjson --planned-date 2026-12-01 --out DIR  # many patients (Bulk Data NDJSON)

One Bundle: DIR/<patient>.packet.json (FHIR Bundle), DIR/<patient>.packet.html, DIR/<patient>.outcome.json.
NDJSON: DIR/packets.ndjson (one Bundle a line), DIR/outcomes.ndjson (one outcome or problem a line) and
DIR/html/<patient>.html; progress on stderr; a bad line or patient is reported and skipped, the rest goes on.
Exit status: 0 all written, 1 some records could not be used (the others were written), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import date
from pathlib import Path

from .. import config as config_module
from ..errors import CdsError
from ..hooks import Services
from ..jsonio import dumps_bytes
from .records import BadRecord, Record, hook_request, read_bundle, read_ndjson
from .render import render_html


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.getLogger("cds_service").setLevel(logging.CRITICAL)  # problems are reported below, per record
    today = args.today or date.today()
    # With --today, "now" is that day too (no evidence dated after it counts), as the service does with TODAY.
    config = config_module.load({"TODAY": lambda: today} if args.today else None)
    services = Services(config, lambda: today, lambda: str(uuid.uuid4()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(args.record)
    try:
        data = sys.stdin.buffer.read() if args.record == "-" else source.read_bytes()
    except OSError as err:
        print(f"cannot read {args.record}: {err.strerror}", file=sys.stderr)
        return 2
    if args.ndjson or source.suffix == ".ndjson":
        return _batch(services, data, args, out)
    try:
        record = read_bundle(data, args.record)
        packet, patient = _packet(services, record, args)
    except (BadRecord, CdsError) as err:
        print(f"{args.record}: {_message(err)}", file=sys.stderr)
        return 1
    files = _write_one(services, packet, out, patient)
    print(f"{patient}: {packet.outcome['overall']} -> " + ", ".join(str(f) for f in files))
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zolgensma-packet", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("record", help="a FHIR Bundle (.json), or NDJSON (.ndjson) of resources or Bundles; - for stdin")
    p.add_argument("--out", required=True, help="directory for the packets and outcomes")
    p.add_argument("--order", help="the Zolgensma MedicationRequest to review (MedicationRequest/<id>); default: "
                                   "the record's one open Zolgensma order")
    p.add_argument("--planned-date", type=date.fromisoformat,
                   help="planned infusion date (YYYY-MM-DD): replaces the order's; without an order, stands for one")
    p.add_argument("--today", type=date.fromisoformat, help="evaluate as if today were this date (default: today)")
    p.add_argument("--ndjson", action="store_true", help="read the input as NDJSON whatever its name")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _packet(services: Services, record: Record, args):
    body = hook_request(record, args.order, args.planned_date)
    return services.packet(body), body["context"]["patientId"]


def _message(err: Exception) -> str:
    return err.message if isinstance(err, CdsError) else str(err)


def _write_one(services: Services, packet, out: Path, patient: str) -> list[Path]:
    files = [out / f"{patient}.packet.json", out / f"{patient}.packet.html", out / f"{patient}.outcome.json"]
    files[0].write_bytes(dumps_bytes(packet.bundle))
    files[1].write_text(render_html(packet.bundle, services.packets.text))
    files[2].write_bytes(dumps_bytes(packet.outcome))
    return files


def _batch(services: Services, data: bytes, args, out: Path) -> int:
    problems: list[str] = []
    records = list(read_ndjson(data.splitlines(), problems))
    html_dir = out / "html"
    html_dir.mkdir(exist_ok=True)
    done = 0
    with open(out / "packets.ndjson", "wb") as packets, open(out / "outcomes.ndjson", "wb") as outcomes:
        for problem in problems:  # lines that were not usable at all
            outcomes.write(dumps_bytes({"record": problem.split(":")[0], "problem": problem}) + b"\n")
        for i, record in enumerate(records, 1):
            try:
                packet, patient = _packet(services, record, args)
            except (BadRecord, CdsError) as err:
                problems.append(_message(err) if isinstance(err, BadRecord) else f"{record.label}: {_message(err)}")
                outcomes.write(dumps_bytes({"record": record.label, "problem": problems[-1]}) + b"\n")
                _progress(args, f"[{i}/{len(records)}] {problems[-1]}")
                continue
            except Exception as err:  # noqa: BLE001 - one patient's unexpected failure never stops the batch
                problems.append(f"{record.label}: could not be processed ({type(err).__name__})")
                outcomes.write(dumps_bytes({"record": record.label, "problem": problems[-1]}) + b"\n")
                _progress(args, f"[{i}/{len(records)}] {problems[-1]}")
                continue
            packets.write(dumps_bytes(packet.bundle) + b"\n")
            outcomes.write(dumps_bytes({"record": record.label, "patient": f"Patient/{patient}",
                                        "outcome": packet.outcome}) + b"\n")
            (html_dir / f"{patient}.html").write_text(render_html(packet.bundle, services.packets.text))
            done += 1
            _progress(args, f"[{i}/{len(records)}] Patient/{patient}: {packet.outcome['overall']}")
    print(f"{done} packets written to {out}; {len(problems)} records could not be used", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


def _progress(args, line: str) -> None:
    if not args.quiet:
        print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
