"""chirpdesk desk: a real support endpoint for customer service on Twitter/X.

It ingests X Account Activity webhooks (tweets and DMs) durably and idempotently, triages them
into prioritised conversations, and serves an agent API (claim, reply, move to DM, escalate,
resolve, release) plus health, Prometheus metrics and first-response statistics.

Importing this package is cheap: the web stack (Starlette, uvicorn) and the database drivers are
only imported by the modules that need them (``chirpdesk.desk.app``, ``chirpdesk.desk.server``, ``chirpdesk.desk.storage_*``).
Build the app with :func:`chirpdesk.desk.app.create_app`; run it with ``chirpdesk serve`` or
``python -m chirpdesk.desk serve``.
"""

from __future__ import annotations
