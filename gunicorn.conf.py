"""Gunicorn settings for `make serve` and `make serve-prod` (gunicorn reads this file with `-c`).

- timeout: a worker is killed only well after the gathering deadline (CDS_GATHER_DEADLINE_SECONDS) plus the
  time to evaluate and answer, so a slow FHIR server gives `unknown` cards within the deadline, never a 500.
- max_requests with jitter: each worker is replaced after 10,000 to 11,000 calls (not all at once), so memory
  a large request took is given back to the system. A new worker costs about a second of start-up CPU, so
  recycling much more often would cost more than it saves.
- after start-up each worker freezes what it has loaded (gc.freeze): the cyclic garbage collector then no
  longer walks the app's long-lived objects during every request's JSON parse.
"""

import gc
import os

from cds_service import config as _config

_deadline = _config.load()["GATHER_DEADLINE_SECONDS"]

workers = int(os.environ.get("CDS_WORKERS", "2"))
timeout = int(_deadline) + 10  # seconds; always above the gathering deadline
graceful_timeout = timeout
max_requests = 10000
max_requests_jitter = 1000
limit_request_line = 8190  # gunicorn's default, stated: the request body limit is CDS_MAX_REQUEST_BYTES
control_socket_disable = True


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
