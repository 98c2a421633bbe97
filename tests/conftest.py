from __future__ import annotations

import itertools
import socket
import tempfile
from datetime import date
from pathlib import Path

import pytest
import responses

from cds_service import create_app

TODAY = date(2026, 11, 23)
# The site's local lab codes used by the "local-lab-codes" scenario (a real site configures its own).
LOCAL_CODES = {
    "http://lab.example-hospital.org/codes|L-ALT": "alt",
    "http://lab.example-hospital.org/codes|L-AST": "ast",
    "http://lab.example-hospital.org/codes|L-PT": "pt",
    "http://lab.example-hospital.org/codes|L-9071": "aav9-titer",
}


def make_app(**overrides):
    counter = itertools.count(1)
    database = "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="cds-test-")) / "cds.sqlite3")
    config = {"TODAY": lambda: TODAY, "ID_FACTORY": lambda: f"id-{next(counter)}", "LOCAL_CODES": LOCAL_CODES,
              "DATABASE_URL": database}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app():
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(scope="session", autouse=True)
def no_network():
    """Tests never reach the network: only the local host resolves. A request to the scenarios' FHIR server
    (https://ehr.example.org/fhir) that no `responses` mock answers fails as an unreachable server would (e.g.
    the by-code search a prefetch route makes for a lab result absent from the prefetch)."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"tests never reach the network ({host!r})")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = local_only
    yield
    socket.getaddrinfo = real
