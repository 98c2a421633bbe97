"""One-run benchmark of the Zolgensma CDS service; prints figures and ratios measured in this run.

  (a) in-process evaluation of an order-sign request with a full 25-resource prefetch (median, p99);
  (b) HTTP throughput and latency of the real service under gunicorn (2 sync workers) against a minimal
      Flask endpoint that only parses the same JSON, both driven the same way from 127.0.0.1;
  (c) the no-prefetch path against a local mock FHIR server (its own process) that delays every response
      by 50 ms, against one round trip to that server.

The machine is shared and noisy: compare the ratios, not the absolute numbers. Usage: make bench
"""

from __future__ import annotations

import copy
import http.client
import json
import logging
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load  # noqa: E402

from cds_service import create_app  # noqa: E402
from cds_service.data_access import SOURCES, resolve  # noqa: E402
from cds_service.fhir_client import FhirClient  # noqa: E402

SIGN = "/cds-services/zolgensma-order-sign"
FHIR_DELAY = 0.050


def prefetched_resources(body: dict) -> int:
    return sum(len(v.get("entry", [])) if v.get("resourceType") == "Bundle" else 1 for v in body["prefetch"].values())


def full_request() -> tuple[dict, list[dict]]:
    """The eligible infant plus older lab history: 25 resources in prefetch."""
    resources = load("eligible-infant")
    body = hook_request("eligible-infant")
    for i in range(25):
        fake = FakeFhir(resources)
        body["prefetch"] = {s.key: fake.answer(resolve(s.templates[0], body["context"])) for s in SOURCES}
        if prefetched_resources(body) == 25:
            return body, resources
        analyte = ("alt", "ast")[i % 2]
        older = copy.deepcopy(next(r for r in resources if r.get("id") == analyte))
        older.update(id=f"{analyte}-{i}", effectiveDateTime=f"2026-{9 + i % 3:02d}-{1 + i:02d}")
        resources.append(older)
    raise AssertionError("could not build a 25-resource prefetch")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def in_process(body: dict, n: int = 400) -> list[float]:
    client = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3"}).test_client()
    for _ in range(20):
        client.post(SIGN, json=body)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(SIGN, json=body)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_spec: str, port: int, env: dict, chdir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
         "--chdir", str(chdir), app_spec], env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST", SIGN, body=b"{}", headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app_spec} did not start")


def drive(port: int, payload: bytes, total: int = 1500, concurrency: int = 4) -> tuple[float, list[float]]:
    """Send `total` POSTs over `concurrency` threads; returns (requests/s, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        local = []
        for _ in range(count):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start = time.perf_counter()
            conn.request("POST", SIGN, body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - start)
            assert response.status == 200, response.status
            conn.close()
        with lock:
            latencies.extend(local)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, [total // concurrency] * concurrency))
    return len(latencies) / (time.perf_counter() - start), latencies


ROUNDS, ROUND_REQUESTS = 6, 1000


def interleaved(service, service_port, ceiling, ceiling_port, payload) -> list[dict]:
    """Alternate service and ceiling in short rounds (which goes first alternates too), so that a change
    in the machine's background load hits both alike; each round gives (req/s, latencies, worker CPU s)."""
    rounds = []
    for i in range(ROUNDS):
        result = {}
        order = [("service", service, service_port), ("ceiling", ceiling, ceiling_port)]
        for name, proc, port in order if i % 2 == 0 else order[::-1]:
            cpu = workers_cpu_seconds(proc)
            rps, latencies = drive(port, payload, total=ROUND_REQUESTS)
            result[name] = (rps, latencies, workers_cpu_seconds(proc) - cpu)
        rounds.append(result)
    return rounds


def _worker_pids(proc: subprocess.Popen) -> list[str]:
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    return children.read_text().split() if children.exists() else []


def workers_cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU of the gunicorn workers so far (Linux /proc)."""
    ticks = 0
    for pid in _worker_pids(proc):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(proc: subprocess.Popen) -> list[float]:
    sizes = []
    for pid in _worker_pids(proc):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


class _DelayedFhir(BaseHTTPRequestHandler):
    fake: FakeFhir = None  # set before serving

    def do_GET(self):  # noqa: N802 - http.server API
        time.sleep(FHIR_DELAY)
        body = json.dumps(self.fake.answer(self.path.split("/fhir/", 1)[1])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve_fhir(resources: list[dict], port, ready) -> None:
    """The EHR's FHIR server, in its own process (as a real one is): every response delayed by 50 ms."""
    _DelayedFhir.fake = FakeFhir(resources)
    ThreadingHTTPServer.request_queue_size = 64  # all parallel queries connect at once
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DelayedFhir)
    server.daemon_threads = True
    port.value = server.server_address[1]
    ready.set()
    server.serve_forever()


def one_round_trip(base: str, query: str, n: int = 20) -> list[float]:
    """One FHIR search as our client makes it (new session, bearer token): the unit of target (c)."""
    client = FhirClient(base, "token", 10, 10, 2000)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.get(query)
        times.append(time.perf_counter() - start)
    return times


def no_prefetch(resources: list[dict], n: int = 40) -> tuple[list[float], list[float]]:
    fork = multiprocessing.get_context("fork")
    port, ready = fork.Value("i", 0), fork.Event()
    server = fork.Process(target=_serve_fhir, args=(resources, port, ready), daemon=True)
    server.start()
    try:
        ready.wait(30)
        base = f"http://127.0.0.1:{port.value}/fhir"
        client = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3"}).test_client()
        body = hook_request("eligible-infant", mode="server")
        body["fhirServer"] = base
        labs = next(s for s in SOURCES if s.name == "labs")  # the largest answer
        trips = one_round_trip(base, resolve(labs.templates[0], body["context"]))
        times = []
        for i in range(n + 3):
            start = time.perf_counter()
            response = client.post(SIGN, json=body)
            elapsed = time.perf_counter() - start
            outcome = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["overall"]
            assert outcome == "eligible", outcome
            if i >= 3:
                times.append(elapsed)
    finally:
        server.terminate()
        server.join()
    return times, trips


def main() -> None:
    # The service logs every call (as in production); here the log goes nowhere so it does not flood.
    logging.getLogger("cds_service").handlers[:] = [logging.StreamHandler(open(os.devnull, "w"))]
    logging.getLogger("cds_service").propagate = False
    body, resources = full_request()
    payload = json.dumps(body).encode()
    print(f"payload: {len(payload) / 1024:.1f} KiB, 25 prefetched resources, FHIR base {FHIR_BASE} mocked")

    a = in_process(body)
    print(f"(a) in-process order-sign: median {statistics.median(a) * 1000:.2f} ms, "
          f"p99 {percentile(a, 99) * 1000:.2f} ms")

    env = {"CDS_DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3"}
    service_port, ceiling_port = free_port(), free_port()
    service = serve("cds_service:create_app()", service_port, env, ROOT)
    ceiling = serve("json_only:app", ceiling_port, env, ROOT / "benchmarks")
    try:
        drive(service_port, payload, total=100)
        drive(ceiling_port, payload, total=100)
        rounds = interleaved(service, service_port, ceiling, ceiling_port, payload)
        rss = worker_rss_mb(service)
    finally:
        for proc in (service, ceiling):
            proc.terminate()
            proc.wait(timeout=30)
    service_lat = [x for r in rounds for x in r["service"][1]]
    ceiling_lat = [x for r in rounds for x in r["ceiling"][1]]
    service_rps = statistics.median(r["service"][0] for r in rounds)
    ceiling_rps = statistics.median(r["ceiling"][0] for r in rounds)
    ratios = sorted(r["service"][0] / r["ceiling"][0] for r in rounds)
    print(f"(b) {len(rounds)} interleaved rounds of {ROUND_REQUESTS} requests each way (median round shown)")
    print(f"    service  : {service_rps:7.1f} req/s, p50 {percentile(service_lat, 50) * 1000:.2f} ms, "
          f"p99 {percentile(service_lat, 99) * 1000:.2f} ms")
    print(f"    JSON-only: {ceiling_rps:7.1f} req/s, p50 {percentile(ceiling_lat, 50) * 1000:.2f} ms, "
          f"p99 {percentile(ceiling_lat, 99) * 1000:.2f} ms")
    print(f"    throughput ratio service / JSON-only ceiling: median {statistics.median(ratios):.2f} "
          f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 0.50)")
    service_cpu = sum(r["service"][2] for r in rounds) / len(service_lat) * 1e6
    ceiling_cpu = sum(r["ceiling"][2] for r in rounds) / len(ceiling_lat) * 1e6
    print(f"    server CPU per request: service {service_cpu:.0f} us, JSON-only {ceiling_cpu:.0f} us "
          f"(ratio {ceiling_cpu / service_cpu:.2f})")
    print(f"    memory per worker (RSS after load): {', '.join(f'{m:.0f} MiB' for m in rss)}")

    c, trips = no_prefetch(resources)
    median, trip = statistics.median(c), statistics.median(trips)
    print(f"(c) no prefetch, {len(SOURCES)} queries to a FHIR server (own process) delaying {FHIR_DELAY * 1000:.0f} ms "
          f"per response: median {median * 1000:.1f} ms, p99 {percentile(c, 99) * 1000:.1f} ms")
    print(f"    one FHIR round trip (labs search): median {trip * 1000:.1f} ms")
    print(f"    ratio to one FHIR round trip: {median / trip:.2f} (target <= 1.5); "
          f"to the bare {FHIR_DELAY * 1000:.0f} ms delay: {median / FHIR_DELAY:.2f}")


if __name__ == "__main__":
    main()
