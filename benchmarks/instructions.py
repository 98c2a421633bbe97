"""Instructions per order-sign request, service against the JSON-only ceiling: a measure the machine's
background load does not move (valgrind's callgrind counts instructions, not seconds).

Two requests, those of `make bench`: (a) a non-Zolgensma order-sign with the lean prefetch (none) and (b) a
Zolgensma order-sign with a full 25-resource prefetch. Each side runs the request through its WSGI app
in-process (no gunicorn, no sockets), once with 0 and once with N requests after a warm-up; the difference
divided by N is the cost of one request. `--stages` also counts each step of (b)'s handler alone (gather,
translate, rules, cards). Needs valgrind (Debian package `valgrind`). Usage: make bench-instructions
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 100
WARM_UP = 20
STAGES = ("gather", "translate", "rules", "cards")


def _count(*args: str) -> int:
    """Instructions callgrind counted for this script run with `args` (in a child process)."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, *args],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def per_request(*args: str) -> int:
    return (_count(*args, str(N)) - _count(*args, "0")) // N


def _workload(which: str, case: str, stage: str | None, n: int) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]
    from fhir_fake import hook_request
    from run import SIGN, full_request, quiet_production_log
    from werkzeug.test import EnvironBuilder

    from cds_service import create_app

    quiet_production_log()
    body = full_request()[0] if case == "b" else hook_request("no-zolgensma", mode="server")
    if which == "ceiling":
        import json_only
        app = json_only.app
    else:
        app = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/i.sqlite3",
                          "TODAY": lambda: date(2026, 11, 23)})
    if stage:
        step = _stage(app, body, stage)
    else:
        payload = json.dumps(body).encode()
        environ = EnvironBuilder(path=SIGN, method="POST", data=payload, content_type="application/json").get_environ()

        def step():
            b"".join(app({**environ, "wsgi.input": io.BytesIO(payload)}, lambda *a: None))
    # As each gunicorn worker does after start-up (gunicorn.conf.py): what is loaded is frozen, so that a full
    # garbage collection falling among the N requests does not walk the whole start-up heap (millions of
    # instructions, added to whichever side it happens to fall in).
    gc.collect()
    gc.freeze()
    for _ in range(WARM_UP + n):
        step()


def _stage(app, body: dict, stage: str):
    """One step of the eligibility handler, with the steps before it done once."""
    from cds_service.cards import CardBuilder, cards_for
    from cds_service.coverage_cards import CoverageCards
    from cds_service.crd import coverage_information
    from cds_service.data_access import gather
    from cds_service.hook_requests import draft_resources, parse_request, zolgensma_order
    from cds_service.orders import OrderSuggester
    from cds_service.rules.billing import billing_guidance
    from cds_service.rules.eligibility import evaluate
    from cds_service.services import SERVICES
    from cds_service.translate import Translator

    handler = app.extensions["cds.handler"].eligibility
    context = parse_request(SERVICES["zolgensma-order-sign"], body)
    drafts = draft_resources(context)
    order = zolgensma_order(context, body["hook"], drafts)
    today = handler.today()

    def translate():
        return Translator(context["patientId"], handler.local_codes).build(
            gathered.resources, order, drafts, gathered.issues, today)

    def rules():
        evaluation = evaluate(facts, today)
        return evaluation, billing_guidance(evaluation, facts)

    def cards():
        builder = CardBuilder(handler.wording, handler.new_id)
        suggester = OrderSuggester(handler.wording.orders, evaluation, facts, handler.new_id)
        coverage = CoverageCards(handler.wording.billing, builder)
        cards_for(evaluation, facts, builder, suggester.for_finding, suggester.extension())
        suggester.monitoring_card(builder)
        coverage.all(guidance)
        coverage_information(evaluation, facts, order, body["hook"], today, handler.new_id, coverage.coverage_reasons)

    gathered = gather(body, handler.config, handler.plan)
    facts = translate()
    evaluation, guidance = rules()
    return {"gather": lambda: gather(body, handler.config, handler.plan), "translate": translate, "rules": rules,
            "cards": cards}[stage]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", action="store_true", help="also count each step of (b)'s handler")
    args = parser.parse_args()
    print(f"instructions per request (callgrind, WSGI in-process, N={N}):")
    for case, label in (("a", "(a) non-Zolgensma order-sign, no prefetch"),
                        ("b", "(b) Zolgensma order-sign, full prefetch")):
        ceiling, service = per_request("ceiling", case), per_request("service", case)
        print(f"  {label}")
        print(f"    JSON-only ceiling: {ceiling / 1e6:.2f} M")
        print(f"    service          : {service / 1e6:.2f} M  (ratio ceiling / service {ceiling / service:.2f})")
    if args.stages:
        for stage in STAGES:
            print(f"      {stage:9s}: {per_request('service', 'b', '--stage', stage) / 1e6:.2f} M")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] in ("ceiling", "service"):
        stage = sys.argv[4] if len(sys.argv) > 5 and sys.argv[3] == "--stage" else None
        _workload(sys.argv[1], sys.argv[2], stage, int(sys.argv[-1]))
    else:
        main()
