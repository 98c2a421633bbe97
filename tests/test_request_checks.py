"""The request checks every call makes stay exact on their cheap path (most calls are for other orders)."""

from __future__ import annotations

import pytest

from cds_service.jsonio import nested_deeper


@pytest.mark.parametrize("depth", [1, 2, 10, 63, 64, 65, 66, 200, 254, 255, 300, 2000])
def test_depth_is_exact_at_and_around_the_limit(depth):
    value = {"x": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    assert nested_deeper(value, 64) is (depth > 64)
    as_lists = [1]
    for _ in range(depth - 1):
        as_lists = [as_lists]
    assert nested_deeper(as_lists, 64) is (depth > 64)


def test_wide_but_shallow_values_are_not_too_deep():
    """More than 64 brackets in all (the quick bound does not settle it), but no path deeper than 6 levels."""
    wide = {"entry": [{"resource": {"coding": [{"code": str(i)}]}} for i in range(100)]}
    assert nested_deeper(wide, 64) is False
    assert nested_deeper(wide, 6) is False and nested_deeper(wide, 5) is True


def test_brackets_inside_strings_never_hide_depth():
    text = "{[" * 100
    assert nested_deeper({"note": text}, 64) is False
    deep = {"note": text}
    for _ in range(70):
        deep = {"x": deep, "note": text}
    assert nested_deeper(deep, 64) is True


def test_values_orjson_cannot_write_are_still_checked():
    big = 1 << 70  # beyond 64 bits: orjson refuses it, the walk decides
    shallow = {"n": big}
    deep = {"n": big}
    for _ in range(64):
        deep = {"x": deep}
    assert nested_deeper(shallow, 64) is False
    assert nested_deeper(deep, 64) is True
    assert nested_deeper("text", 0) is False and nested_deeper({}, 0) is True


def test_flask_asks_each_function_once_whether_it_is_a_coroutine():
    from flask import Flask

    from cds_service import CdsFlask

    app = CdsFlask(__name__)

    def hook():
        return None

    async def coroutine():
        return None

    assert app.ensure_sync(hook) is hook and app.ensure_sync(hook) is hook
    for flask_app in (app, Flask(__name__)):  # an async view is handled as Flask handles it
        with pytest.raises(RuntimeError, match="async"):
            flask_app.ensure_sync(coroutine)
