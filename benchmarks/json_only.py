"""The ceiling: a Flask endpoint that only parses the same JSON body and answers no cards."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def parse_only(service_id: str):
    body = request.get_json(force=True, silent=True)
    return jsonify({"cards": [], "parsed": isinstance(body, dict)})
