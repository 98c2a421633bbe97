"""What target (c) pays for the SMN1-day follow-up (review 2026-11-24b C2), measured, not argued.

Medplum's in-memory R4 server seeded with the eligible infant (as benchmarks/no_prefetch.py), the service in-process
with its defaults (one FHIR batch), rounds alternating between the service as it is and the same service with the
follow-up search for the SMN1 results' day left out (patched in this process only: the service has no setting
for it, and it keeps no way to drop a safety check). Each round: 15 calls, each followed by one labs search, as
no_prefetch.py does; printed: requests per call and the ratio of the medians, per round.

Run: `.venv/bin/python benchmarks/follow_up_cost.py [rounds]` (default 3).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import no_prefetch  # noqa: E402
from fhir_fake import load  # noqa: E402

from cds_service import follow_ups  # noqa: E402


def _without_day_search(plan):
    def patched(labs, classify):
        searches, issues = plan(labs, classify)
        searches.pop(follow_ups.GENETICS_REPORTS, None)
        return searches, issues
    return patched


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    infant = load("eligible-infant")
    proc, base = no_prefetch.medplum([r for r in infant if not (r["resourceType"] == "MedicationRequest"
                                                                and r.get("status") == "draft")])
    if proc is None:
        print(f"Medplum in-memory server: not run ({base})")
        return
    as_is = follow_ups._plan
    try:
        for i in range(rounds):
            for label, plan in (("as is", as_is), ("without the SMN1-day search", _without_day_search(as_is))):
                follow_ups._plan = plan
                times, searches, outcome, _, count, _ = no_prefetch._calls(base, 15, with_searches=True)
                call, search = statistics.median(times), statistics.median(searches)
                print(f"round {i + 1}, {label}: {outcome}, {count} requests per call; call median "
                      f"{call * 1000:.1f} ms, one labs search {search * 1000:.1f} ms, ratio {call / search:.2f}")
    finally:
        follow_ups._plan = as_is
        no_prefetch._stop(proc)


if __name__ == "__main__":
    logging.getLogger("cds_service").handlers[:] = [logging.StreamHandler(open(os.devnull, "w"))]
    logging.getLogger("cds_service").propagate = False
    main()
