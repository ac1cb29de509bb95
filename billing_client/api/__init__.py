"""The JSON API under ``/api``: thin handlers, one module per use-case family. Each reads the
request (``wire``), calls its use case (``billing_client.usecases``) and answers in JSON; the route
table is ``routes.ROUTES``."""
