"""The billing client's use cases, one module per use case, called by the JSON handlers (``api/``)
and by the background reconciler alike. A rule lives in exactly one of them.

``context.Context`` carries what every use case needs (storage, vault, AMCI, metrics, clock, the
per-transaction locks); each module is plain functions taking it first:

- ``payment_systems``: the Stripe accounts an administrator configures (credentials sealed);
- ``currencies``: which payment system takes which currency, and its minimum payment;
- ``customers``: the people who pay, and what AMCI is told about them;
- ``cards``: saving (token or encrypted full card except CVV), listing and deleting cards;
- ``transactions``: the ledger: views, replays, sending a pending transaction to AMCI, retry;
- ``payments``: a sale or authorization;
- ``follow_ups``: capture, refund and void of a payment;
- ``reconcile``: completing pending transactions once AMCI is back;
- ``demo``: the demo payment system created at start-up.

Money-moving operations follow one rule so a timeout followed by a retry never charges twice:
the transaction row, with its own AMCI ``Idempotency-Key``, is written *before* AMCI is called;
every later attempt (a client retry with the same ``Idempotency-Key`` header,
``POST /api/transactions/{id}/retry``, or the background reconciler) resends the very same body
under that same key, so AMCI (and Stripe behind it) replays the first result instead of charging
again.
"""
