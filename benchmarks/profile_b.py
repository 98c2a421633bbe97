"""(b) in-process: the Zolgensma order-sign with the full 25-resource prefetch (run.full_request()), posted
through Flask's test client. Prints the median call time without a profiler, then a cProfile of 300 calls
sorted by own time and by cumulative time. Usage: .venv/bin/python benchmarks/profile_b.py [rows]"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]

from run import SIGN, full_request, quiet_production_log  # noqa: E402

from cds_service import create_app  # noqa: E402


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    quiet_production_log()
    body = full_request()[0]
    client = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/p.sqlite3",
                         "TODAY": lambda: date(2026, 11, 23)}).test_client()
    for _ in range(30):
        assert client.post(SIGN, json=body).status_code == 200
    times = []
    for _ in range(500):
        start = time.perf_counter()
        client.post(SIGN, json=body)
        times.append(time.perf_counter() - start)
    print(f"median {statistics.median(times) * 1e3:.3f} ms, min {min(times) * 1e3:.3f} ms over 500 calls")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(300):
        client.post(SIGN, json=body)
    profile.disable()
    stats = pstats.Stats(profile)
    print(f"function calls per request: {stats.total_calls / 300:.0f}")
    stats.sort_stats("tottime").print_stats(rows)
    stats.sort_stats("cumtime").print_stats(rows)


if __name__ == "__main__":
    main()
