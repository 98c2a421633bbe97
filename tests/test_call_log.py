"""The call log line (one per call, CRD) is the same whether it is written directly to the service's own stderr
handler (production: nothing else receives it) or through logging's record machinery (any other set-up)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re

import pytest
from conftest import make_app
from fhir_fake import FakeFhir, hook_request, load

from cds_service import LOG_FORMAT, _Formatter, write_info

SIGN = "/cds-services/zolgensma-order-sign"
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) cds_service\.calls INFO (\{.*\})$")


def _calls(client) -> None:
    """The same four calls: a non-Zolgensma order, a Zolgensma order, a body that is not JSON, an unknown hook."""
    client.post(SIGN, json=hook_request("no-zolgensma", mode="server"), headers={"Authorization": "Bearer jwt-x"})
    client.post(SIGN, json=hook_request("missing-labs"))
    client.post(SIGN, data="{bad", content_type="application/json")
    client.post(SIGN, json={**hook_request("no-zolgensma"), "hook": "free text"})


def _call_lines(stream) -> list[str]:
    """The call log's lines (the service's other loggers write to the same handler)."""
    return [line for line in stream.getvalue().splitlines() if " cds_service.calls " in line]


def _without_time(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "ms"} for e in events]


@pytest.fixture
def service_stream(monkeypatch):
    """The service's own handler writing into a buffer."""
    make_app()  # the logging set-up
    handler = logging.getLogger("cds_service").handlers[0]
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    return stream


@contextlib.contextmanager
def alone(direct: bool = True):
    """Nothing but the service's handler receives the records (as under gunicorn: pytest's capturing handlers on
    the root logger set aside); `direct`: logging's record machinery must not be used for the call lines."""
    root, calls = logging.getLogger(), logging.getLogger("cds_service.calls")
    saved = root.handlers
    root.handlers = []
    if direct:
        calls.makeRecord = lambda *args, **kwargs: pytest.fail("a LogRecord was made for the call line")
    try:
        yield
    finally:
        root.handlers = saved
        vars(calls).pop("makeRecord", None)


def test_direct_line_reads_as_loggings_own_with_the_same_fields(service_stream, caplog):
    client = make_app().test_client()
    with alone():
        _calls(client)
    lines = _call_lines(service_stream)
    assert len(lines) == 4 and all(LINE.match(line) for line in lines), lines
    direct = [json.loads(LINE.match(line).group(2)) for line in lines]

    # The usual route: the same calls through logging's records, captured by pytest.
    caplog.set_level(logging.INFO, logger="cds_service.calls")
    _calls(client)
    recorded = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cds_service.calls"]
    assert _without_time(direct) == _without_time(recorded)
    assert all(isinstance(e["ms"], float) for e in direct)

    other, zolgensma, bad, unknown = direct
    assert other["status"] == 200 and other["cards"] == [] and other["hook"] == "order-sign"
    assert other["patientId"] == "no-zolgensma" and other["userId"] == "Practitioner/neuro-1"
    assert other["hookInstance"] and other["prefetchKeys"] == [] and other["systemActions"] == 0
    assert zolgensma["overall"] == "incomplete" and zolgensma["prefetchKeys"] and zolgensma["criteria"]
    assert bad["status"] == 400 and "not valid JSON" in bad["error"]
    assert unknown["status"] == 422 and unknown["hook"] == "other" and "free text" not in lines[3]
    assert "jwt-x" not in service_stream.getvalue()


def test_direct_line_time_text_is_loggings(service_stream):
    record = logging.LogRecord("cds_service.calls", logging.INFO, __file__, 0, "{}", None, None)
    with alone():
        write_info(logging.getLogger("cds_service.calls"), "{}")
    written = LINE.match(service_stream.getvalue().strip()).group(1)
    standard = logging.Formatter(LOG_FORMAT).formatTime(record)
    assert written[:16] == standard[:16]  # to the minute: the two were made a moment apart
    fmt = _Formatter(LOG_FORMAT)
    for created in (1_795_000_000.0, 1_795_000_000.999, 1_795_000_001.5, 1_795_000_000.25, 1_795_086_400.0):
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert fmt.asctime(created) == logging.Formatter(LOG_FORMAT).formatTime(record)


def test_a_filter_or_another_handler_gets_the_line_through_logging(service_stream):
    calls = logging.getLogger("cds_service.calls")
    client = make_app().test_client()
    dropped = logging.Filter("nothing.matches")
    calls.addFilter(dropped)
    try:
        with alone(direct=False):
            client.post(SIGN, json=hook_request("no-zolgensma", mode="server"))
    finally:
        calls.removeFilter(dropped)
    assert _call_lines(service_stream) == []  # the filter was honoured: the direct route was not taken

    other = io.StringIO()
    extra = logging.StreamHandler(other)
    calls.addHandler(extra)
    try:
        with alone(direct=False):
            client.post(SIGN, json=hook_request("no-zolgensma", mode="server"))
    finally:
        calls.removeHandler(extra)
    assert '"status": 200' in other.getvalue().replace('"status":200', '"status": 200')
    assert len(_call_lines(service_stream)) == 1  # and the service's handler still wrote it


def test_a_failed_log_write_never_fails_the_call(service_stream, monkeypatch):
    def broken(text):
        raise OSError("disk full")

    monkeypatch.setattr(service_stream, "write", broken)
    monkeypatch.setattr(logging, "raiseExceptions", False)  # as in production: reported on stderr at most
    with alone(direct=False):  # the failure is reported through a record, as StreamHandler reports it
        response = make_app().test_client().post(SIGN, json=hook_request("no-zolgensma", mode="server"))
    assert response.status_code == 200 and response.json == {"cards": []}


def test_a_non_zolgensma_order_reads_nothing_and_logs_one_line(service_stream, rsps):
    fake = FakeFhir(load("no-zolgensma"))
    fake.register(rsps)
    client = make_app().test_client()
    with alone():
        response = client.post(SIGN, json=hook_request("no-zolgensma", mode="server"))
    assert response.status_code == 200 and response.json == {"cards": []}
    assert fake.calls == []
    assert len(_call_lines(service_stream)) == 1
