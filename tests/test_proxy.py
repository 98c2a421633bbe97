"""nginx in front of gunicorn (deploy/nginx-cds.conf): slow clients no longer starve the service.

Issue 16: four connections that send half a body and stall held both sync workers, and no other call was
answered until gunicorn's worker timeout. Behind nginx, which reads each request completely before passing it
on, the same stalled clients leave every normal call answered. Skipped when nginx is not installed.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
import urllib3
from fhir_fake import hook_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))

import local_proxy  # noqa: E402

pytestmark = pytest.mark.skipif(local_proxy.nginx_missing() is not None, reason=str(local_proxy.nginx_missing()))

SIGN = "/cds-services/zolgensma-order-sign"
STALLED = 6  # more than gunicorn's workers (2)


def _stall(port: int, tls: bool) -> socket.socket:
    """A client that sends the headers and half of a 100 kB body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname="localhost")
    sock.sendall(f"POST {SIGN} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100000\r\n\r\n".encode() + b" " * 50_000)
    return sock


@pytest.fixture(scope="module")
def stack():
    """gunicorn (2 sync workers, fresh database) and nginx in front of it, both on 127.0.0.1."""
    upstream, port = local_proxy.free_port(), local_proxy.free_port()
    prefix = Path(tempfile.mkdtemp(prefix="cds-nginx-test-"))
    database = "sqlite:///" + str(prefix / "cds.sqlite3")
    gunicorn = local_proxy.start_gunicorn(upstream, 2, {"CDS_DATABASE_URL": database})
    try:
        nginx = local_proxy.start_nginx(prefix, port, upstream)
        try:
            yield {"proxy": f"https://127.0.0.1:{port}", "port": port, "direct": f"http://127.0.0.1:{upstream}",
                   "upstream": upstream}
        finally:
            local_proxy.stop(nginx)
    finally:
        local_proxy.stop(gunicorn)


def _post(base: str, timeout: float) -> requests.Response:
    with urllib3.warnings.catch_warnings():
        urllib3.warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        return requests.post(base + SIGN, json=hook_request("eligible-infant"), timeout=timeout, verify=False)


def test_calls_through_nginx_are_answered_over_tls(stack):
    response = _post(stack["proxy"], timeout=60)
    assert response.status_code == 200
    assert response.json()["cards"][0]["summary"].startswith("Zolgensma can go ahead: all 14")


def test_stalled_clients_do_not_block_calls_through_nginx(stack):
    with ExitStack() as stalled:
        for _ in range(STALLED):
            stalled.callback(_stall(stack["port"], tls=True).close)
        answers = [_post(stack["proxy"], timeout=60).status_code for _ in range(10)]
    assert answers == [200] * 10


def test_without_nginx_the_same_stalled_clients_block_gunicorn(stack):
    """The contrast that shows the test above measures something: the workers really are held."""
    with ExitStack() as stalled:
        for _ in range(STALLED):
            stalled.callback(_stall(stack["upstream"], tls=False).close)
        with pytest.raises(requests.Timeout):
            _post(stack["direct"], timeout=5)
    assert _post(stack["direct"], timeout=60).status_code == 200  # released once they hang up


def test_bodies_over_the_limit_are_413_operation_outcomes(stack):
    with urllib3.warnings.catch_warnings():
        urllib3.warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        response = requests.post(stack["proxy"] + SIGN, data=b" " * (11 * 1024 * 1024), verify=False, timeout=60,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert json.loads(response.content)["resourceType"] == "OperationOutcome"
