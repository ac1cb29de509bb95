"""The Stripe resources the test-mode server simulates, one module per resource.

Every endpoint function has the same signature ``(ctx, account, path ids, form params) -> JSON``
and is synchronous: the app runs each inside one store transaction. Objects of one account are
invisible to another. ``amci.testmode.routes`` says which function serves which path.

Stripe pages followed: docs.stripe.com/api (object shapes), /payments/paymentintents/lifecycle
(statuses), /payments/place-a-hold-on-a-payment-method (manual capture, 7-day authorizations),
/refunds, /testing (test cards, "You can't attach cards that simulate issuer declines").
"""
