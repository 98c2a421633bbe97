"""Behaviour snapshot for performance work: the JSON response of every fixture scenario through every service
that answers it, by prefetch and through the FHIR server (tests/fhir_fake.py), with hostile text poisoned into
the data (as tests/test_card_safety.py does), plus the benchmark's (b) request and a long-history chart.

Ids and "today" are injected (a fresh app per call, so the id counter starts at 1 each time); only the card
and suggestion `uuid` fields are left out, and the packet links' random tokens are masked. Record on the code
before a change, compare after it:

    .venv/bin/python benchmarks/snapshot.py record /tmp/before.json
    .venv/bin/python benchmarks/snapshot.py compare /tmp/before.json
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import fhir_fake  # noqa: E402
import responses  # noqa: E402
from conftest import make_app  # noqa: E402
from fhir_fake import FakeFhir, hook_request, long_history, service_calls, without_ids  # noqa: E402
from test_card_safety import VARIANTS, _poisoned  # noqa: E402

from cds_service.hooks import SERVICES  # noqa: E402


def _post(service: str, body: dict, resources: list[dict] | None = None) -> dict:
    client = make_app().test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        if resources is not None:
            FakeFhir(resources).register(rsps)
        response = client.post(f"/cds-services/{service}", json=body)
    text = re.sub(r"/packets/[A-Za-z0-9_-]+", "/packets/TOKEN", response.get_data(as_text=True))
    return {"status": response.status_code, "body": without_ids(json.loads(text))}


def _hook(service: str) -> str:
    return SERVICES[service].hooks[0]


def snapshot() -> dict:
    from run import full_request

    out = {}
    original = fhir_fake.load
    for variant in (None, *sorted(VARIANTS)):
        if variant:
            fhir_fake.load = lambda name, v=variant: _poisoned(original(name), v)
        try:
            for name, service, body in service_calls():
                resources = fhir_fake.load(name)
                out[f"{variant}/prefetch/{service}/{name}"] = _post(service, body, resources)
                if variant is None:
                    server = hook_request(name, _hook(service), mode="server", resources=resources)
                    out[f"server/{service}/{name}"] = _post(service, server, resources)
        finally:
            fhir_fake.load = original
    body, resources = full_request()
    out["bench-b"] = _post("zolgensma-order-sign", body, resources)
    history = long_history(original("eligible-infant"), 300, 40)
    out["long-history"] = _post("zolgensma-order-sign",
                                hook_request("eligible-infant", resources=history), history)
    return out


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    logging.disable(logging.CRITICAL)
    now = snapshot()
    if mode == "record":
        path.write_text(json.dumps(now, indent=1, sort_keys=True))
        print(f"recorded {len(now)} responses to {path}")
        return
    before = json.loads(path.read_text())
    now = json.loads(json.dumps(now))
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    for key in differ[:20]:
        print("DIFFERS:", key)
    print(f"{len(now)} responses, {len(differ)} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
