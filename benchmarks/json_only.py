"""The ceiling: a Flask endpoint that only parses the same JSON body and answers no cards.

Same stack as the service (its Flask class with the orjson provider and the cached `ensure_sync`, gunicorn with
gunicorn.conf.py), so the ratio measures the service's own work: a ceiling on the standard library's slower json,
or on a Flask the service has tuned, would flatter the ratio.
"""

from flask import jsonify, request

from cds_service import CdsFlask

app = CdsFlask(__name__)


@app.post("/cds-services/<service_id>")
def parse_only(service_id: str):
    body = request.get_json(force=True, silent=True)
    return jsonify({"cards": [], "parsed": isinstance(body, dict)})
