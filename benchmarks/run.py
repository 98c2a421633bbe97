"""One-run benchmark of the Zolgensma CDS service; prints figures and ratios measured in this run.

  (a) a non-Zolgensma order-sign with the lean (empty) prefetch: service / JSON-only ceiling, driven by wrk;
  (b) a Zolgensma order-sign with a full 25-resource prefetch: wrk throughput ratio and gunicorn worker-CPU ratio
      against the JSON-only ceiling (a Flask endpoint that only parses the same JSON), interleaved rounds;
  (c) a Zolgensma order-sign without prefetch: against a real FHIR server the benchmark starts (Medplum's
      in-memory R4 server from npm, when node and npm are here) seeded with the eligible infant, compared with
      one labs search; and against a paging FHIR stand-in (own process: a default page size unless _count,
      Bundle.total, absolute next links, a few ms per page) seeded with the eligible infant plus 2,500 and
      10,000 history Observations and 600 MedicationAdministrations: the outcome and the time against the
      gathering deadline;
  (d) cost per prefetched resource, 250 to 10,000 resources (in-process).

wrk is the Debian package `wrk`; without it (b) and (a) fall back to a Python driver and say so. The machine is
shared and noisy: compare the ratios of one run, not the absolute numbers. Usage: make bench (part (a) alone:
python benchmarks/run.py --only a)
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import logging
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import no_prefetch  # noqa: E402  (c) is in its own file
from fhir_fake import FakeFhir, hook_request, load, long_history  # noqa: E402

from cds_service import _configure_logging, create_app  # noqa: E402
from cds_service.data_access import SOURCES, resolve  # noqa: E402

SIGN = "/cds-services/zolgensma-order-sign"
LOCAL_CODES = {"http://lab.example-reference.com/tests|1181": "aav9-titer"}  # the fixtures' titer code


def prefetched_resources(body: dict) -> int:
    """Distinct resources in the prefetch (a lab result is in both `labs` and `labCodes`)."""
    resources = [e["resource"] for v in body["prefetch"].values()
                 for e in (v.get("entry", []) if v.get("resourceType") == "Bundle" else [{"resource": v}])]
    return len({(r["resourceType"], r["id"]) for r in resources})


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
        # gunicorn.conf.py as in production, except worker recycling (its --max-requests): the CPU of a worker is
        # read from /proc by pid, and the figures are the steady state between recyclings.
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--max-requests", "0",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--chdir", str(chdir), app_spec],
        env={**os.environ, **env},
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


WRK = shutil.which("wrk")
_WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("PAYLOAD"), "rb"); wrk.body = f:read("*a"); f:close()
"""


def drive(port: int, payload: bytes, seconds: float = 3.0, connections: int = 2) -> tuple[float, float, float]:
    """Load one server for `seconds`: (requests/s, p50 s, p99 s). wrk (2 threads) when installed, else a Python
    driver (a new connection per request) that shares the two cores. Two connections, one per sync worker: with
    more, the extra connections wait in the listen queue, and on this machine the service's throughput fell
    (453 -> 263 req/s from 2 to 4 connections in one trial) while the ceiling's did not."""
    if WRK:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "body.json").write_bytes(payload)
            (Path(tmp) / "post.lua").write_text(_WRK_SCRIPT)
            out = subprocess.run([WRK, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
                                  str(Path(tmp) / "post.lua"), f"http://127.0.0.1:{port}{SIGN}"],
                                 capture_output=True, text=True, env={**os.environ, "PAYLOAD": f"{tmp}/body.json"},
                                 check=True).stdout
        if "Non-2xx" in out:
            raise RuntimeError("wrk saw non-2xx answers:\n" + out)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return rps, _wrk_latency(out, "50%"), _wrk_latency(out, "99%")
    return _python_drive(port, payload, seconds, connections)


def _wrk_latency(out: str, which: str) -> float:
    value, unit = re.search(rf"{re.escape(which)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def _python_drive(port: int, payload: bytes, seconds: float, concurrency: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    ends = time.perf_counter() + seconds

    def worker(_) -> None:
        local = []
        while time.perf_counter() < ends:
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
        list(pool.map(worker, range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), percentile(latencies, 50), percentile(latencies, 99)


ROUNDS, ROUND_SECONDS = 10, 3.0  # the machine is shared: more rounds steady the medians


def interleaved(service, service_port, ceiling, ceiling_port, payload) -> list[dict]:
    """Alternate service and ceiling in short rounds (which goes first alternates too), so that a change
    in the machine's background load hits both alike; each round gives (req/s, p50, p99, worker CPU s / request)."""
    rounds = []
    for i in range(ROUNDS):
        result = {}
        order = [("service", service, service_port), ("ceiling", ceiling, ceiling_port)]
        for name, proc, port in order if i % 2 == 0 else order[::-1]:
            cpu = workers_cpu_seconds(proc)
            rps, p50, p99 = drive(port, payload, ROUND_SECONDS)
            result[name] = (rps, p50, p99, (workers_cpu_seconds(proc) - cpu) / (rps * ROUND_SECONDS))
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


def compare(label: str, payload: bytes) -> None:
    """Service against the JSON-only ceiling under gunicorn (2 sync workers each, gunicorn.conf.py), same driver."""
    env = {"CDS_DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3"}
    service_port, ceiling_port = free_port(), free_port()
    service = serve("cds_service:create_app()", service_port, env, ROOT)
    ceiling = serve("json_only:app", ceiling_port, env, ROOT / "benchmarks")
    try:
        drive(service_port, payload, 1.0)
        drive(ceiling_port, payload, 1.0)
        rounds = interleaved(service, service_port, ceiling, ceiling_port, payload)
        rss = worker_rss_mb(service)
    finally:
        for proc in (service, ceiling):
            proc.terminate()
            proc.wait(timeout=30)

    def med(side: str, field: int) -> float:
        return statistics.median(r[side][field] for r in rounds)

    ratios = sorted(r["service"][0] / r["ceiling"][0] for r in rounds)
    cpu = sorted(r["ceiling"][3] / r["service"][3] for r in rounds)
    print(f"{label}: {len(rounds)} interleaved rounds of {ROUND_SECONDS:g} s each way, "
          f"{'wrk -t2 -c2' if WRK else 'Python driver (wrk not installed: apt-get install wrk)'}")
    for side, name in (("service", "service  "), ("ceiling", "JSON-only")):
        print(f"    {name}: {med(side, 0):7.1f} req/s, p50 {med(side, 1) * 1000:.2f} ms, "
              f"p99 {med(side, 2) * 1000:.2f} ms, worker CPU {med(side, 3) * 1e6:.0f} us/request")
    print(f"    throughput ratio service / ceiling: median {statistics.median(ratios):.2f} "
          f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}); worker-CPU ratio ceiling / service: median "
          f"{statistics.median(cpu):.2f} (rounds {cpu[0]:.2f}-{cpu[-1]:.2f})")
    print(f"    memory per service worker (RSS after load): {', '.join(f'{m:.0f} MiB' for m in rss)}")


# --- (d) cost per prefetched resource -----------------------------------------------------------------------
def per_resource(sizes=(250, 1000, 2500, 10000), n: int = 15) -> None:
    app = create_app({"DATABASE_URL": "sqlite:///" + tempfile.mkdtemp() + "/b.sqlite3", "LOCAL_CODES": LOCAL_CODES})
    client = app.test_client()
    base = load("eligible-infant")
    results = []
    for size in sizes:
        body = hook_request("eligible-infant")
        extra = size - prefetched_resources(body)
        body["prefetch"]["labs"] = FakeFhir(long_history(base, extra, 0)).answer(
            "Observation?patient=eligible-infant&category=laboratory&_count=100000")
        payload = json.dumps(body).encode()
        count = prefetched_resources(body)
        times = []
        for _ in range(n + 2):
            start = time.perf_counter()
            response = client.post(SIGN, data=payload, content_type="application/json")
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        results.append((count, len(payload), statistics.median(times[2:])))
    print("(d) cost per prefetched resource (in-process, request bytes through parse, translation, rules, cards):")
    for count, size, median in results:
        print(f"    {count:6d} resources, {size / 1048576:5.1f} MiB: median {median * 1000:7.1f} ms = "
              f"{median / count * 1e6:5.1f} us per resource")
    per = [m / c for c, _, m in results]
    print(f"    per-resource cost, largest / smallest: {max(per) / min(per):.2f}")


def quiet_production_log() -> None:
    """The service's log as in production (its handler, format and level: a line per call), written nowhere
    so that it does not flood the output."""
    _configure_logging()
    logger = logging.getLogger("cds_service")
    for handler in logger.handlers:
        handler.setStream(open(os.devnull, "w"))
    logger.propagate = False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["a"], help="run only this part (the others take most of the run)")
    args = parser.parse_args(argv)
    quiet_production_log()
    print("One run on this machine (shared, noisy: compare ratios).")

    other = hook_request("no-zolgensma", mode="server")
    compare("(a) non-Zolgensma order-sign, lean prefetch (none)", json.dumps(other).encode())
    if args.only == "a":
        return

    body, resources = full_request()
    payload = json.dumps(body).encode()
    a = in_process(body)
    print(f"(b) Zolgensma order-sign, full prefetch ({prefetched_resources(body)} resources, "
          f"{len(payload) / 1024:.1f} KiB); in-process median {statistics.median(a) * 1000:.2f} ms")
    compare("(b)", payload)

    no_prefetch.main()

    per_resource()


if __name__ == "__main__":
    main()
