"""Disputes opened by Stripe's dispute test cards, their evidence, acceptance and outcome
(docs.stripe.com/testing#disputes, docs.stripe.com/disputes/how-disputes-work, api/disputes).

- A chargeback (``pm_card_createDispute``, ``…ProductNotReceived``) opens ``needs_response``:
  the disputed amount and a 15.00 fee are withdrawn (one balance transaction,
  ``charge.dispute.funds_withdrawn``); the charge is no longer refundable.
- An inquiry (``pm_card_createDisputeInquiry``) opens ``warning_needs_response``: no money moves.
- Evidence submitted (``submit`` defaults to true) moves it under review; Stripe's test values
  decide: ``winning_evidence`` wins (the amount is reinstated, the fee is not:
  ``charge.dispute.funds_reinstated``), ``losing_evidence`` loses. Other evidence stays under
  review, as in Stripe's test mode. ``/close`` accepts the dispute: lost (an inquiry: closed).
The dispute opens, and is decided, by timers (``dispute_open_delay_seconds``,
``dispute_decision_delay_seconds``): Stripe does both "shortly after", delay UNVERIFIED.
"""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.params import documented
from amci.testmode.resources.common import RETRIEVE, expand, list_objects, load
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.wire import DATED_LIST_PARAMS, EXPAND, Bool, Metadata, Obj, Str, check, new_id

# The fee Stripe charges per chargeback (15.00 in the account's currency here; Stripe's fee is
# per country, UNVERIFIED beyond the US's $15).
FEE = 1500
EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text")
UPDATE = documented("POST /v1/disputes/{id}", {
    "evidence": Obj({k: Str(20_000) for k in EVIDENCE_FIELDS}), "metadata": Metadata(),
    "submit": Bool(), "expand": EXPAND})
LIST = documented("GET /v1/disputes", {**DATED_LIST_PARAMS, "charge": Str(255),
                                       "payment_intent": Str(255)})
RETRIEVE_ONE = documented("GET /v1/disputes/{id}", RETRIEVE)
CLOSE = documented("POST /v1/disputes/{id}/close", {"expand": EXPAND})
# Visa's reason codes for the test cards' reasons (observed: fraud 10.4 / inquiry 10).
NETWORK_REASON = {("fraudulent", "chargeback"): "10.4", ("fraudulent", "inquiry"): "10",
                  ("product_not_received", "chargeback"): "13.1",
                  ("product_not_received", "inquiry"): "13"}
RESPONDABLE = {"needs_response": "under_review", "warning_needs_response": "warning_under_review"}


def schedule_opening(ctx: Context, account: str, charge_id: str, after: str | None) -> None:
    """After a dispute card's payment is captured, the dispute opens shortly after."""
    if after and after.startswith("dispute:"):
        ctx.queue.schedule(account, "dispute_open", charge_id,
                           ctx.clock.now() + ctx.settings.dispute_open_delay_seconds,
                           {"spec": after})


def _txn(dispute: Json, amount: int, fee: int, now: int, what: str) -> Json:
    return {"id": new_id("txn"), "object": "balance_transaction", "amount": amount,
            "available_on": now, "created": now, "currency": dispute["currency"],
            "description": f"{what} for {dispute['charge']}", "exchange_rate": None,
            "fee": fee, "fee_details": [{"amount": fee, "application": None,
                                         "currency": dispute["currency"],
                                         "description": "Dispute fee", "type": "stripe_fee"}]
            if fee else [], "net": amount - fee, "reporting_category": what.lower().replace(
                " ", "_"), "source": dispute["id"], "status": "available", "type": "adjustment"}


def open_dispute(ctx: Context, account: str, charge_id: str, spec: str) -> None:
    """Timer ``dispute_open``: the charge is disputed."""
    ch = ctx.store.get(account, charge_id)
    if ch is None or ch.data["disputed"]:
        return
    _, reason, case = spec.split(":")
    charge, now = ch.data, ctx.clock.now()
    card = charge["payment_method_details"]["card"]
    chargeback = case == "chargeback"
    dispute: Json = {
        "id": new_id("dp"), "object": "dispute", "amount": charge["amount_captured"],
        "balance_transactions": [], "charge": charge["id"], "created": now,
        "currency": charge["currency"], "enhanced_eligibility_types": [],
        "evidence": {**dict.fromkeys(EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {"due_by": now + 7 * 86400, "enhanced_eligibility": {},
                             "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": not chargeback, "livemode": False, "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {"card": {
            "brand": card["brand"], "case_type": case, "network": card["network"],
            "network_reason_code": NETWORK_REASON.get((reason, case))}, "type": "card"},
        "reason": reason, "status": "needs_response" if chargeback else "warning_needs_response",
    }
    if chargeback:
        dispute["balance_transactions"].append(
            _txn(dispute, -dispute["amount"], FEE, now, "Chargeback withdrawal"))
    ctx.store.insert(account, "dispute", dispute, f1=charge["id"], f2=charge["payment_intent"])
    charge["disputed"] = True
    ch.internal["dispute"] = dispute["id"]
    ctx.store.update(account, charge, ch.internal, f1=charge["customer"],
                     f2=charge["payment_intent"])


def open_chargeback(ctx: Context, account: str, charge: Json) -> str | None:
    """The open chargeback of a charge, if any (refunds are refused while one is open)."""
    row = ctx.store.get(account, charge["id"])
    ident = row.internal.get("dispute") if row else None
    dp = ctx.store.get(account, ident) if ident else None
    if dp is None or dp.data["status"] not in ("needs_response", "under_review"):
        return None
    return dp.id


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE_ONE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "dispute").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "dispute", p, "/v1/disputes", f1=p.get("charge"),
                        f2=p.get("payment_intent"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "dispute")
    dp = row.data
    evidence = {k: v for k, v in (p.get("evidence") or {}).items() if v is not None}
    if evidence and dp["status"] not in RESPONDABLE:
        raise InvalidRequestError(
            f"This dispute is already {dp['status']} and cannot take new evidence.",
            param="evidence")
    dp["evidence"].update(evidence)
    dp["metadata"] = merge_metadata(dp["metadata"], p.get("metadata"))
    if evidence:
        dp["evidence_details"]["has_evidence"] = True
    if p.get("submit", True) and dp["status"] in RESPONDABLE and (
            evidence or dp["evidence_details"]["has_evidence"]):
        dp["status"] = RESPONDABLE[dp["status"]]
        dp["evidence_details"]["submission_count"] += 1
        ctx.queue.schedule(acct.id, "dispute_decide", dp["id"],
                           ctx.clock.now() + ctx.settings.dispute_decision_delay_seconds)
    ctx.store.update(acct.id, dp, row.internal, f1=dp["charge"], f2=dp["payment_intent"])
    return expand(ctx, acct, dp, p.get("expand"))


def close(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    """Accept the dispute: "Closing the dispute for a charge indicates that you do not have any
    evidence to submit and are essentially dismissing the dispute, acknowledging it as lost"."""
    p = check(raw, CLOSE)
    row = load(ctx, acct, ids["id"], "dispute")
    dp = row.data
    if dp["status"] not in RESPONDABLE:
        raise InvalidRequestError(f"This dispute is already {dp['status']} and cannot be"
                                  " closed.")
    dp["status"] = "lost" if dp["status"] == "needs_response" else "warning_closed"
    dp["is_charge_refundable"] = dp["status"] == "warning_closed"
    ctx.store.update(acct.id, dp, row.internal, f1=dp["charge"], f2=dp["payment_intent"])
    return expand(ctx, acct, dp, p.get("expand"))


def decide(ctx: Context, account: str, dispute_id: str) -> None:
    """Timer ``dispute_decide``: Stripe's test evidence values decide the outcome."""
    row = ctx.store.get(account, dispute_id)
    if row is None or row.data["status"] not in ("under_review", "warning_under_review"):
        return
    dp = row.data
    text = " ".join(str(v) for k, v in dp["evidence"].items()
                    if isinstance(v, str) and k != "enhanced_evidence")
    if "winning_evidence" in text:
        won = True
    elif "losing_evidence" in text:
        won = False
    else:
        return  # stays under review
    if dp["status"] == "warning_under_review":
        # An inquiry closes either way (UNVERIFIED: a lost inquiry may escalate instead).
        dp["status"] = "warning_closed"
    elif won:
        dp["status"] = "won"
        dp["balance_transactions"].append(
            _txn(dp, dp["amount"], 0, ctx.clock.now(), "Chargeback reversal"))
    else:
        dp["status"] = "lost"
    ctx.store.update(account, dp, row.internal, f1=dp["charge"], f2=dp["payment_intent"])
