"""The HTTP hook (FastAPI, ``/v1``; OpenAPI at ``/openapi.json``).

``create_app(settings, *, session_factory=None, redis=None, selector=None, locator=None,
queue=None)`` wires everything; nothing is global. Routes, one module per feature:

- ``routes_actions``: ``POST /v1/actions`` (Idempotency-Key), ``GET /v1/actions``
  (``state``, ``region``, ``from``, ``to``), ``GET /v1/actions/{id}``,
  ``POST /v1/actions/estimate`` (dry run).
- ``routes_action_ops``: ``POST /v1/actions/{id}/estimate|start|expand|update|cancel|close``,
  ``GET /v1/actions/{id}/dossier?format=json|csv``.
- ``routes_events``: ``GET /v1/actions/{id}/events`` (SSE counts, via ``progress_hub``).
- ``routes_participants``: relatiebeheer register/modify/unsubscribe + ``/confirm``.

Auth (``auth``): ``Authorization: Bearer <secret>`` from ``bnet tokens create``; roles
centralist, telecom-admin, relatiebeheer, auditor, admin; region scope per token ("*" = all).
Errors (``problems``): ``application/problem+json`` with a stable ``code``.
"""
