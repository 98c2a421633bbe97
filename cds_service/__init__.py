"""Zolgensma CDS Hooks 2.0 service."""

from __future__ import annotations

import uuid
from datetime import date

from flask import Flask

from . import config as config_module


def create_app(config: dict | None = None) -> Flask:
    """Flask factory. `config` overrides CDS_* environment variables; `TODAY` and `ID_FACTORY`
    (callables) may be injected so that tests are deterministic."""
    from .api import bp, register_error_handlers
    from .hooks import EligibilityHandler

    settings = config_module.load(config)
    app = Flask(__name__)
    app.config.update(settings)
    app.json.sort_keys = False
    today = settings.get("TODAY") or date.today
    new_id = settings.get("ID_FACTORY") or (lambda: str(uuid.uuid4()))
    app.extensions["cds.handler"] = EligibilityHandler(settings, today, new_id)
    app.register_blueprint(bp)
    register_error_handlers(app)
    return app
