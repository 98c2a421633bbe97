"""What the service stores: card feedback, seen JWT ids (replay protection) and, for a limited time,
the prior-authorization packets behind card links.

SQLAlchemy Core over a database URL: a SQLite file by default, PostgreSQL with
`postgresql+psycopg://...`. All tables are shared by all gunicorn workers, each of which creates them
at start: the creation tolerates a worker that created them a moment earlier (the first start of a fresh
database used to fail about one time in ten with "table ... already exists").
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

metadata = MetaData()

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(100), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", Text),  # JSON array of suggestion uuids
    Column("override_system", String(500)),
    Column("override_code", String(200)),
    Column("override_display", String(500)),
    Column("user_comment", Text),
    Column("outcome_timestamp", String(40), nullable=False),
    Column("received_at", Float, nullable=False),
)

jwt_seen = Table(
    "jwt_seen", metadata,
    Column("iss", String(500), nullable=False),
    Column("jti", String(500), nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("iss", "jti"),
)

# Pre-filled prior-authorization packets behind card links (packet/links.py), deleted once expired.
packets = Table(
    "packets", metadata,
    Column("id", String(100), primary_key=True),
    Column("body", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)


class Store:
    def __init__(self, url: str):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        # hide_parameters: a database error never quotes the stored values (free text) into a log.
        self.engine = create_engine(url, hide_parameters=True, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(self.engine)

    def add_feedback(self, service_id: str, items: list[dict]) -> int:
        rows = [{
            "service_id": service_id,
            "card_uuid": item["card"],
            "outcome": item["outcome"],
            "accepted_suggestions": json.dumps([s["id"] for s in item.get("acceptedSuggestions", [])]),
            "override_system": (item.get("overrideReason", {}).get("reason") or {}).get("system"),
            "override_code": (item.get("overrideReason", {}).get("reason") or {}).get("code"),
            "override_display": (item.get("overrideReason", {}).get("reason") or {}).get("display"),
            "user_comment": item.get("overrideReason", {}).get("userComment"),
            "outcome_timestamp": item["outcomeTimestamp"],
            "received_at": time.time(),
        } for item in items]
        with self.engine.begin() as conn:
            conn.execute(insert(feedback), rows)
        return len(rows)

    def feedback_rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(feedback).order_by(feedback.c.id))]

    def first_use_of_jti(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record a JWT id; False when it was seen before (a replay). Expired ids are purged."""
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(jwt_seen.delete().where(jwt_seen.c.expires_at < now))
                conn.execute(insert(jwt_seen).values(iss=iss, jti=jti, expires_at=expires_at))
            return True
        except IntegrityError:
            return False

    def add_packet(self, key: str, body: str, expires_at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(packets.delete().where(packets.c.expires_at < time.time()))
            conn.execute(insert(packets).values(id=key, body=body, expires_at=expires_at))

    def packet(self, key: str) -> str | None:
        """A stored packet's JSON, or None when unknown or expired."""
        with self.engine.connect() as conn:
            row = conn.execute(select(packets.c.body).where(
                packets.c.id == key, packets.c.expires_at >= time.time())).first()
        return row[0] if row else None


def create_tables(engine, attempts: int = 5) -> None:
    """Create what is missing. Two workers starting together both see no table; the one that loses the race
    gets "already exists" (SQLite) or a duplicate key in the catalogue (PostgreSQL): look again, then the
    tables are there and nothing is left to create."""
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
