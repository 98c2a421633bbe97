"""(a) and (b) in-process through WSGI: the service's app and the JSON-only app (benchmarks/json_only.py) called with
the same request body, no gunicorn and no sockets, in alternating rounds; median microseconds per call. What is left
of a ratio once the server's own per-request cost is taken away.

Run: `.venv/bin/python benchmarks/wsgi_time.py [rounds]` (default 4)."""

from __future__ import annotations

import gc
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "tests")]

import json_only  # noqa: E402
from fhir_fake import hook_request  # noqa: E402
from run import SIGN, full_request, quiet_production_log  # noqa: E402

from cds_service import create_app  # noqa: E402


def _environ(payload: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": SIGN, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(payload)), "wsgi.input": io.BytesIO(payload),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000"}


def _call(app, payload: bytes) -> None:
    status = []
    b"".join(app(_environ(payload), lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("200"), status


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    quiet_production_log()
    service = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/w.sqlite3",
                          "TODAY": lambda: date(2026, 11, 23)})
    cases = (("(a) non-Zolgensma order-sign", json.dumps(hook_request("no-zolgensma", mode="server")).encode(), 2000),
             ("(b) Zolgensma order-sign, full prefetch", json.dumps(full_request()[0]).encode(), 300))
    for _, payload, _ in cases:
        for _ in range(30):
            _call(service, payload)
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py does after start-up
    for label, payload, n in cases:
        for i in range(rounds):
            medians = {}
            for name, app in (("service", service), ("JSON-only", json_only.app)):
                times = []
                for _ in range(n):
                    start = time.perf_counter()
                    _call(app, payload)
                    times.append(time.perf_counter() - start)
                medians[name] = statistics.median(times) * 1e6
            print(f"{label}, round {i + 1}: service {medians['service']:.0f} us, "
                  f"JSON-only {medians['JSON-only']:.0f} us per call")


if __name__ == "__main__":
    main()
