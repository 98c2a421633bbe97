from __future__ import annotations

import itertools
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
