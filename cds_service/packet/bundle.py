"""The packet as one FHIR R4 Bundle (type `collection`): the QuestionnaireResponse, the Questionnaire, then
every resource the answers cite, as received. A cited resource that is not valid R4 (checked with the full
fhir.resources R4B model) is left out, and the packet says so: the Bundle itself must stay valid."""

from __future__ import annotations

import uuid

from pydantic import ValidationError

from ..fhir_validation import _explain


def resource_index(resources: list[dict]) -> dict[str, dict]:
    """`Type/id` -> resource, first one wins (the translator also reads a duplicate once)."""
    index: dict[str, dict] = {}
    for r in resources:
        if type(r) is dict and type(r.get("resourceType")) is str and type(r.get("id")) is str:
            index.setdefault(f"{r['resourceType']}/{r['id']}", r)
    return index


def cited_references(response: dict) -> list[str]:
    """Every reference the response cites, in order of first citation, the subject first."""
    seen = [response["subject"]["reference"]]

    def walk(items):
        for item in items:
            for answer in item.get("answer", []):
                ref = (answer.get("valueReference") or {}).get("reference")
                if ref and ref not in seen:
                    seen.append(ref)
            walk(item.get("item", []))
    walk(response["item"])
    return seen


def r4_problem(resource: dict) -> str | None:
    """Why a resource is not valid R4 (full R4B model), or None when it is."""
    from fhir.resources.R4B import get_fhir_model_class
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except KeyError:
        return f"resource type {resource['resourceType']} is not FHIR R4"
    except ValidationError as err:
        return _explain(err)
    except Exception as err:  # noqa: BLE001 - whatever the model chokes on, the resource is not valid R4
        return f"unreadable ({type(err).__name__})"
    return None


def assemble(bundle_id: str, timestamp: str, response: dict, questionnaire: dict, index: dict[str, dict],
             base: str | None) -> tuple[dict, list[str]]:
    """(the Bundle, what was left out and why). `base`: the FHIR server the evidence came from, if any."""
    entries = [_entry(response, None), _entry(questionnaire, None)]
    left_out = []
    for ref in cited_references(response):
        resource = index.get(ref)
        if resource is None:
            left_out.append(f"{ref}: cited, but not among the resources received")
            continue
        problem = r4_problem(resource)
        if problem:
            left_out.append(f"{ref}: not included, not valid FHIR R4 ({problem})")
            continue
        entries.append(_entry(resource, base))
    if left_out:  # the reviewer sees it in the response itself, next to the other data issues
        _note_left_out(response, questionnaire, left_out)
    bundle = {"resourceType": "Bundle", "id": bundle_id, "type": "collection", "timestamp": timestamp,
              "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn(f"packet:{bundle_id}")},
              "entry": entries}
    return bundle, left_out


def _entry(resource: dict, base: str | None) -> dict:
    ref = f"{resource['resourceType']}/{resource['id']}"
    full_url = f"{base.rstrip('/')}/{ref}" if base else _urn(ref)
    return {"fullUrl": full_url, "resource": resource}


def _urn(name: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "zolgensma-cds:" + name))


def _note_left_out(response: dict, questionnaire: dict, left_out: list[str]) -> None:
    answers = [{"valueString": text} for text in left_out]
    group = next((i for i in response["item"] if i["linkId"] == "data-issues"), None)
    if group is not None:
        group["item"][0]["answer"] += answers
        return
    definition = next(i for i in questionnaire["item"] if i["linkId"] == "data-issues")
    response["item"].append({"linkId": "data-issues", "text": definition["text"], "item": [
        {"linkId": "data-issues.item", "text": definition["item"][0]["text"], "answer": answers}]})
