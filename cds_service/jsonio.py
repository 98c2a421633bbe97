"""JSON for Flask with orjson: parsing and writing the large CDS Hooks bodies is a visible share of each call.

orjson refuses some of what the standard library takes: writing integers beyond 64 bits (e.g. in an
echoed draft order), reading the NaN/Infinity literals that lenient JSON writers emit. For those rare
bodies both directions fall back to the standard library (non-finite numbers are then rejected by
validation before any rule sees them).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import JSONProvider


def dumps_bytes(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=str)
    except TypeError:
        return json.dumps(obj, default=str).encode()  # deep input: callers bound what they echo (nested_deeper)


def loads(data: str | bytes) -> Any:
    """Parse JSON; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except RecursionError:  # nested deeper than orjson's 1024 levels and than Python's stack allows
        raise ValueError("JSON nested too deeply") from None


def nested_deeper(value: Any, limit: int) -> bool:
    """True when `value` has more than `limit` levels of arrays/objects (iterative: any depth is safe).
    This runs on every call's context, most of them small: first a bound from the JSON text (orjson writes it
    in well under a microsecond): the depth is at most the number of '{' and '[' in it (brackets inside strings
    only loosen the bound), so the walk, one level at a time, runs only when that count exceeds the limit."""
    try:
        text = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: deeper than orjson writes, an integer beyond 64 bits, ...
        text = None
    if text is not None and text.count(b"{") + text.count(b"[") <= limit:
        return False
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list = []
        append = deeper.append
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    append(child)
        level = deeper
    return False


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps_bytes(obj), mimetype="application/json")
