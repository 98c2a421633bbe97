"""The ceiling: a Flask endpoint that only parses the same JSON body and answers no cards.

Same stack as the service (Flask, the service's orjson provider, gunicorn with gunicorn.conf.py), so the ratio
measures the service's own work: a ceiling on the standard library's slower json would flatter the ratio.
"""

from flask import Flask, jsonify, request

from cds_service.jsonio import OrjsonProvider

app = Flask(__name__)
app.json = OrjsonProvider(app)


@app.post("/cds-services/<service_id>")
def parse_only(service_id: str):
    body = request.get_json(force=True, silent=True)
    return jsonify({"cards": [], "parsed": isinstance(body, dict)})
