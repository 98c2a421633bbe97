"""CDS Hooks 2.0 feedback bodies: validation (the store persists them)."""

from __future__ import annotations

from datetime import datetime

from .errors import BadRequest
from .store import feedback as table

OUTCOMES = ("accepted", "overridden")
# Lengths are checked here, before the database (PostgreSQL refuses longer values and any NUL character).
MAX_ITEMS = 100
MAX_SUGGESTIONS = 50
MAX_COMMENT = 4000
MAX_LENGTHS = {"card": table.c.card_uuid.type.length, "system": table.c.override_system.type.length,
               "code": table.c.override_code.type.length, "display": table.c.override_display.type.length,
               "outcomeTimestamp": table.c.outcome_timestamp.type.length, "id": table.c.card_uuid.type.length,
               "userComment": MAX_COMMENT}


def parse_feedback(body) -> list[dict]:
    """Validate {"feedback": [...]} and return the items. Raises BadRequest naming the first problem."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise BadRequest("body must be {\"feedback\": [ ... ]} with at least one item")
    if len(body["feedback"]) > MAX_ITEMS:
        raise BadRequest(f"at most {MAX_ITEMS} feedback items per request")
    items = []
    for i, item in enumerate(body["feedback"]):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object")
        if not isinstance(item.get("card"), str) or not item["card"]:
            raise BadRequest(f"{where}.card must be the card's uuid")
        if item.get("outcome") not in OUTCOMES:
            raise BadRequest(f"{where}.outcome must be one of {', '.join(OUTCOMES)}")
        accepted = item.get("acceptedSuggestions")
        if item["outcome"] == "accepted":
            if not isinstance(accepted, list) or not accepted or not all(
                    isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"] for s in accepted):
                raise BadRequest(f"{where}.acceptedSuggestions must list {{\"id\": suggestion uuid}} when accepted")
            if len(accepted) > MAX_SUGGESTIONS:
                raise BadRequest(f"{where}.acceptedSuggestions lists more than {MAX_SUGGESTIONS} suggestions")
            for j, suggestion in enumerate(accepted):
                _check_text(suggestion, "id", f"{where}.acceptedSuggestions[{j}]")
        elif accepted is not None:
            raise BadRequest(f"{where}.acceptedSuggestions only goes with outcome 'accepted'")
        reason = item.get("overrideReason")
        if reason is not None:
            if item["outcome"] != "overridden" or not isinstance(reason, dict):
                raise BadRequest(f"{where}.overrideReason only goes with outcome 'overridden'")
            coding = reason.get("reason")
            if coding is not None and not (isinstance(coding, dict) and isinstance(coding.get("code"), str)
                                           and isinstance(coding.get("system"), str)):
                raise BadRequest(f"{where}.overrideReason.reason must be a Coding with system and code")
            if "userComment" in reason and not isinstance(reason["userComment"], str):
                raise BadRequest(f"{where}.overrideReason.userComment must be a string")
            _check_text(reason, "userComment", f"{where}.overrideReason")
            if coding is not None:
                if coding.get("display") is not None and not isinstance(coding["display"], str):
                    raise BadRequest(f"{where}.overrideReason.reason.display must be a string")
                for field in ("system", "code", "display"):
                    _check_text(coding, field, f"{where}.overrideReason.reason")
        stamp = item.get("outcomeTimestamp")
        if not isinstance(stamp, str) or not _is_timestamp(stamp):
            raise BadRequest(f"{where}.outcomeTimestamp must be an ISO 8601 date-time")
        for field in ("card", "outcomeTimestamp"):
            _check_text(item, field, where)
        items.append(item)
    return items


def _check_text(holder: dict, field: str, where: str) -> None:
    """A string the store keeps: bounded length, no NUL (the message never repeats the value)."""
    value = holder.get(field)
    if not isinstance(value, str):
        return
    if len(value) > MAX_LENGTHS[field]:
        raise BadRequest(f"{where}.{field} is longer than {MAX_LENGTHS[field]} characters")
    if "\x00" in value:
        raise BadRequest(f"{where}.{field} contains a NUL character")


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text
