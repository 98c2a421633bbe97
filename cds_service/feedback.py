"""CDS Hooks 2.0 feedback bodies: validation (the store persists them)."""

from __future__ import annotations

from datetime import datetime

from .errors import BadRequest

OUTCOMES = ("accepted", "overridden")


def parse_feedback(body) -> list[dict]:
    """Validate {"feedback": [...]} and return the items. Raises BadRequest naming the first problem."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise BadRequest("body must be {\"feedback\": [ ... ]} with at least one item")
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
        stamp = item.get("outcomeTimestamp")
        if not isinstance(stamp, str) or not _is_timestamp(stamp):
            raise BadRequest(f"{where}.outcomeTimestamp must be an ISO 8601 date-time")
        items.append(item)
    return items


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text
