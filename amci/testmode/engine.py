"""The Stripe state machine: customers, payment methods, payment intents, charges, refunds.

Every public method takes the caller's ``Account``, the path ids and the decoded form parameters,
and returns a Stripe JSON object (or raises a ``StripeError``). All methods are synchronous: the
app runs each inside one store transaction. Objects of one account are invisible to another.

Stripe pages followed: docs.stripe.com/api (object shapes), /payments/paymentintents/lifecycle
(statuses), /payments/place-a-hold-on-a-payment-method (manual capture, 7-day authorizations),
/refunds, /testing (test cards, "You can't attach cards that simulate issuer declines").
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from amci import money
from amci.testmode import cards
from amci.testmode.amounts import AmountPolicy, fmt
from amci.testmode.auth import Account
from amci.testmode.clock import Clock
from amci.testmode.errors import CardError, InvalidRequestError, ResourceMissing, StripeError
from amci.testmode.settings import TestmodeSettings
from amci.testmode.store import Row, Store
from amci.testmode.wire import (
    EXPAND,
    LIST_PARAMS,
    Bool,
    Enum,
    Int,
    List,
    Metadata,
    Obj,
    Spec,
    Str,
    check,
    new_id,
    require,
)

Json = dict[str, Any]
Params = Mapping[str, Any]

# --- parameter specs (what current Stripe clients send) ------------------------------------------

ADDRESS = Obj({k: Str(200) for k in ("city", "country", "line1", "line2", "postal_code", "state")})
BILLING_DETAILS = Obj(
    {"address": ADDRESS, "email": Str(512), "name": Str(256), "phone": Str(40), "tax_id": Str(50)}
)
CARD = Obj(
    {"number": Str(40), "exp_month": Int(), "exp_year": Int(), "cvc": Str(10), "token": Str(255),
     "networks": Obj({"preferred": Str(40)})}
)
CUSTOMER = {
    "email": Str(512), "name": Str(256), "description": Str(), "phone": Str(40),
    "metadata": Metadata(), "address": ADDRESS, "payment_method": Str(255),
    "invoice_settings": Obj({"default_payment_method": Str(255)}),
    "preferred_locales": List(Str(20)), "expand": EXPAND,
}
PM_CREATE = {
    "type": Str(50), "card": CARD, "billing_details": BILLING_DETAILS, "metadata": Metadata(),
    "allow_redisplay": Enum(("always", "limited", "unspecified")), "expand": EXPAND,
}
PM_DATA = Obj({k: v for k, v in PM_CREATE.items() if k != "expand"})
CARD_OPTIONS = Obj(
    {"capture_method": Enum(("manual",)),
     "request_three_d_secure": Enum(("any", "automatic", "challenge")),
     "setup_future_usage": Enum(("none", "off_session", "on_session"))}
)


class OffSession(Spec):
    """``off_session`` is a boolean or ``one_off``/``recurring`` (PaymentIntent create)."""

    def coerce(self, value: Any, name: str) -> Any:
        if value in ("one_off", "recurring"):
            return True
        return Bool().coerce(value, name)


CONFIRM_COMMON: dict[str, Spec] = {
    "payment_method": Str(255), "payment_method_data": PM_DATA, "off_session": OffSession(),
    "return_url": Str(2048), "error_on_requires_action": Bool(),
    "payment_method_options": Obj({"card": CARD_OPTIONS}),
    "setup_future_usage": Enum(("off_session", "on_session")), "receipt_email": Str(512),
    "use_stripe_sdk": Bool(), "mandate": Str(255), "capture_method": Enum(
        ("automatic", "automatic_async", "manual")), "payment_method_types": List(Str(50)),
    "expand": EXPAND,
}
PI_CREATE: dict[str, Spec] = {
    **CONFIRM_COMMON,
    "amount": Int(), "currency": Str(3), "customer": Str(255), "confirm": Bool(),
    "confirmation_method": Enum(("automatic", "manual")), "description": Str(1000),
    "metadata": Metadata(), "statement_descriptor": Str(22), "statement_descriptor_suffix": Str(22),
    "automatic_payment_methods": Obj(
        {"enabled": Bool(), "allow_redirects": Enum(("always", "never"))}
    ),
}
CAPTURE = {"amount_to_capture": Int(), "metadata": Metadata(), "expand": EXPAND,
           "final_capture": Bool(), "statement_descriptor": Str(22),
           "statement_descriptor_suffix": Str(22)}
CANCEL = {"cancellation_reason": Enum(("abandoned", "duplicate", "fraudulent",
                                       "requested_by_customer")), "expand": EXPAND}
REFUND = {"charge": Str(255), "payment_intent": Str(255), "amount": Int(),
          "reason": Enum(("duplicate", "fraudulent", "requested_by_customer")),
          "metadata": Metadata(), "expand": EXPAND, "instructions_email": Str(512)}
RETRIEVE = {"expand": EXPAND, "client_secret": Str(255)}

PREFIX_KIND = {"cus": "customer", "pm": "payment_method", "pi": "payment_intent",
               "ch": "charge", "re": "refund"}
MISSING_NAME = {"customer": "customer", "payment_method": "PaymentMethod",
                "payment_intent": "payment_intent", "charge": "charge", "refund": "refund"}
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing")
CONFIRMABLE = ("requires_confirmation", "requires_payment_method", "requires_action")
# Stripe's wording (observed) for re-using a single-use PaymentMethod.
PM_REUSE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer"
    " attachment, shared with a connected account without Customer attachment, or was detached"
    " from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must"
    " attach it to a Customer first."
)
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


def _merge_metadata(current: Json, update: Json | None) -> Json:
    if update is None:
        return current
    if not update:
        return {}
    merged = dict(current)
    for k, v in update.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged


def _card_error(code: str, message: str, param: str) -> CardError:
    # Card-data validation fails before execution starts: not stored for idempotency.
    return CardError(message, code=code, param=param, stored=False)


class Engine:
    def __init__(self, store: Store, clock: Clock, settings: TestmodeSettings,
                 policy: AmountPolicy) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.policy = policy

    # --- loading, expansion, lists -----------------------------------------------------------

    def _row(self, acct: Account, ident: str, kind: str, param: str | None = None) -> Row:
        row = self.store.get(acct.id, ident) if ident else None
        if row is None or row.kind != kind or row.internal.get("deleted"):
            raise ResourceMissing(MISSING_NAME[kind], ident, param=param)
        if kind == "payment_intent":
            self._expire_authorization(acct, row)
        return row

    def _load_any(self, acct: Account, ident: str) -> Json | None:
        kind = PREFIX_KIND.get(ident.partition("_")[0])
        if kind is None:
            return None
        try:
            return self._row(acct, ident, kind).data
        except ResourceMissing:
            return None

    def expand(self, acct: Account, obj: Json, paths: list[str] | None) -> Json:
        """Stripe's ``expand[]``: replace ids by their objects along dotted paths (max 4 deep)."""
        for path in paths or ():
            parts = path.split(".")
            if len(parts) > 4:
                raise InvalidRequestError(
                    f"You cannot expand more than 4 levels of a property. Property: {path}",
                    param="expand",
                )
            self._expand(acct, obj, parts, path)
        return obj

    def _expand(self, acct: Account, node: Json, parts: list[str], path: str) -> None:
        key, rest = parts[0], parts[1:]
        if node.get("object") == "list" and key == "data":
            for item in node["data"]:
                if rest:
                    self._expand(acct, item, rest, path)
            return
        value = node.get(key)
        if isinstance(value, str):
            loaded = self._load_any(acct, value)
            if loaded is None:
                raise InvalidRequestError(
                    f"This property cannot be expanded ({path}).", param="expand"
                )
            node[key] = value = loaded
        elif not isinstance(value, dict) and not (value is None and key in node):
            raise InvalidRequestError(f"This property cannot be expanded ({path}).",
                                      param="expand")
        if rest and isinstance(value, dict):
            self._expand(acct, value, rest, path)

    def _list(self, acct: Account, kind: str, params: Params, url: str,
              f1: str | None = None, f2: str | None = None) -> Json:
        limit = params.get("limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= 100:
            raise InvalidRequestError(
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
            )
        before = after = None
        if params.get("starting_after"):
            before = self.store.seq_of(acct.id, params["starting_after"], kind)
            if before is None:
                raise ResourceMissing(MISSING_NAME[kind], params["starting_after"],
                                      param="starting_after")
        elif params.get("ending_before"):
            after = self.store.seq_of(acct.id, params["ending_before"], kind)
            if after is None:
                raise ResourceMissing(MISSING_NAME[kind], params["ending_before"],
                                      param="ending_before")
        rows, more = self.store.page(acct.id, kind, f1=f1, f2=f2, limit=limit,
                                     before_seq=before, after_seq=after)
        data = []
        for row in rows:
            if kind == "payment_intent":
                self._expire_authorization(acct, row)
            if not row.internal.get("deleted"):
                data.append(row.data)
        result = {"object": "list", "data": data, "has_more": more, "url": url}
        return self.expand(acct, result, params.get("expand"))

    # --- customers -----------------------------------------------------------------------------

    def _check_email(self, email: str | None) -> None:
        if email is not None and not _EMAIL.match(email):
            raise InvalidRequestError(f"Invalid email address: {email[:512]}",
                                      code="email_invalid", param="email")

    def create_customer(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, CUSTOMER)
        self._check_email(p.get("email"))
        now = self.clock.now()
        cus: Json = {
            "id": new_id("cus", 14), "object": "customer", "address": None, "balance": 0,
            "created": now, "currency": None, "default_source": None, "delinquent": False,
            "description": None, "discount": None, "email": None,
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                                 "footer": None, "rendering_options": None},
            "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1,
            "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
            "test_clock": None,
        }
        self._apply_customer(cus, p)
        self.store.insert(acct.id, "customer", cus, f1=cus["email"])
        if p.get("payment_method"):
            self._attach(acct, p["payment_method"], cus["id"], param="payment_method")
        self._set_default_pm(acct, cus, p)
        return self.expand(acct, cus, p.get("expand"))

    def _apply_customer(self, cus: Json, p: Params) -> None:
        for field in ("email", "name", "description", "phone"):
            if field in p:
                cus[field] = p[field]
        if "address" in p:
            addr = p["address"]
            cus["address"] = None if addr is None else {
                k: addr.get(k) for k in ("city", "country", "line1", "line2", "postal_code",
                                         "state")}
        if "preferred_locales" in p:
            cus["preferred_locales"] = p["preferred_locales"]
        cus["metadata"] = _merge_metadata(cus["metadata"], p.get("metadata"))

    def _set_default_pm(self, acct: Account, cus: Json, p: Params) -> None:
        settings = p.get("invoice_settings") or {}
        if "default_payment_method" not in settings:
            return
        pm_id = settings["default_payment_method"]
        if pm_id is not None:
            pm = self._row(acct, pm_id, "payment_method",
                           param="invoice_settings[default_payment_method]")
            if pm.data["customer"] != cus["id"]:
                raise InvalidRequestError(
                    f"The customer does not have a payment method with the ID {pm_id}. The"
                    " payment method must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                )
        cus["invoice_settings"]["default_payment_method"] = pm_id
        self.store.update(acct.id, cus, f1=cus["email"])

    def retrieve_customer(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, RETRIEVE)
        row = self.store.get(acct.id, ids["id"])
        if row is None or row.kind != "customer":
            raise ResourceMissing("customer", ids["id"])
        if row.internal.get("deleted"):
            # Stripe answers a deleted customer with its tombstone.
            return {"id": row.id, "object": "customer", "deleted": True}
        return self.expand(acct, row.data, p.get("expand"))

    def update_customer(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {k: v for k, v in CUSTOMER.items() if k != "payment_method"})
        self._check_email(p.get("email"))
        row = self._row(acct, ids["id"], "customer")
        cus = row.data
        self._apply_customer(cus, p)
        self.store.update(acct.id, cus, row.internal, f1=cus["email"])
        self._set_default_pm(acct, cus, p)
        return self.expand(acct, cus, p.get("expand"))

    def delete_customer(self, acct: Account, ids: Params, raw: Params) -> Json:
        check(raw, {})
        row = self._row(acct, ids["id"], "customer")
        # Deleting a customer detaches its payment methods.
        for pm in self.store.by_filter(acct.id, "payment_method", row.id):
            pm.data["customer"] = None
            pm.internal["consumed"] = True
            self.store.update(acct.id, pm.data, pm.internal)
        self.store.update(acct.id, row.data, {**row.internal, "deleted": True},
                          f1=row.data["email"])
        return {"id": row.id, "object": "customer", "deleted": True}

    def list_customers(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {**LIST_PARAMS, "email": Str(512)})
        return self._list(acct, "customer", p, "/v1/customers", f1=p.get("email"))

    # --- payment methods ----------------------------------------------------------------------

    def _new_pm(self, acct: Account, card: cards.TestCard, *, exp_month: int, exp_year: int,
                cvc_given: bool, billing: Json | None, metadata: Json | None,
                allow_redisplay: str | None = None) -> Row:
        """Insert a card PaymentMethod. Keeps last4/brand/fingerprint and the test behaviour;
        never the number or the CVC."""
        brand, _ = cards.brand_of(card.number)
        billing = billing or {}
        addr = billing.get("address") or {}
        address = {k: addr.get(k) for k in ("city", "country", "line1", "line2", "postal_code",
                                            "state")}
        cvc_check = (card.cvc_check or "pass") if cvc_given else None
        postal_check = (card.postal_code_check or "pass") if address["postal_code"] else None
        pm: Json = {
            "id": new_id("pm"), "object": "payment_method",
            "allow_redisplay": allow_redisplay or "unspecified",
            "billing_details": {"address": address, "email": billing.get("email"),
                                "name": billing.get("name"), "phone": billing.get("phone"),
                                "tax_id": billing.get("tax_id")},
            "card": {
                "brand": brand,
                "checks": {"address_line1_check": None,
                           "address_postal_code_check": postal_check, "cvc_check": cvc_check},
                "country": card.country, "display_brand": brand, "exp_month": exp_month,
                "exp_year": exp_year, "fingerprint": cards.fingerprint(acct.fingerprint_secret,
                                                                       card.number),
                "funding": card.funding, "generated_from": None, "last4": card.number[-4:],
                "networks": {"available": [brand], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True}, "wallet": None,
            },
            "created": self.clock.now(), "customer": None, "livemode": False,
            "metadata": _merge_metadata({}, metadata), "type": "card",
        }
        o = card.outcome
        internal = {"outcome": [o.kind, o.code, o.decline_code, o.message, o.attachable,
                                o.off_session_ok]}
        self.store.insert(acct.id, "payment_method", pm, internal)
        return Row(0, pm["id"], "payment_method", pm, internal)

    def _alias_pm(self, acct: Account, ident: str) -> Row | None:
        card = cards.card_for_alias(ident)
        if card is None:
            return None
        year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
        return self._new_pm(acct, card, exp_month=12, exp_year=year + 3, cvc_given=True,
                            billing=None, metadata=None)

    def _pm_from_data(self, acct: Account, p: Params, prefix: str) -> Row:
        kind = require(p, "type") if not prefix else p.get("type")
        if kind is None:
            raise InvalidRequestError(f"Missing required param: {prefix}[type].",
                                      code="parameter_missing", param=f"{prefix}[type]")
        pname = f"{prefix}[type]" if prefix else "type"
        if kind != "card":
            raise InvalidRequestError(
                f"Invalid {pname}: this test-mode server supports the payment method type card",
                param=pname,
            )
        card_p = p.get("card")
        cname = f"{prefix}[card]" if prefix else "card"
        if not card_p:
            raise InvalidRequestError(f"Missing required param: {cname}.",
                                      code="parameter_missing", param=cname)
        if card_p.get("token"):
            extra = set(card_p) - {"token"}
            if extra:
                raise InvalidRequestError(
                    f"You cannot provide both {cname}[token] and {cname}[{sorted(extra)[0]}].",
                    param=f"{cname}[token]")
            token = card_p["token"]
            test = cards.card_for_alias(token) if token.startswith("tok_") else None
            if test is None:
                raise InvalidRequestError(f"No such token: '{token}'", code="resource_missing",
                                          param=f"{cname}[token]")
            year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
            return self._new_pm(acct, test, exp_month=12, exp_year=year + 3, cvc_given=True,
                                billing=p.get("billing_details"), metadata=p.get("metadata"),
                                allow_redisplay=p.get("allow_redisplay"))
        # Raw card data: accepted as on an account with raw card data APIs enabled.
        number, exp_month, exp_year, cvc = self._validate_card(card_p, cname)
        return self._new_pm(acct, cards.card_for_number(number), exp_month=exp_month,
                            exp_year=exp_year, cvc_given=cvc is not None,
                            billing=p.get("billing_details"), metadata=p.get("metadata"),
                            allow_redisplay=p.get("allow_redisplay"))

    def _validate_card(self, c: Params, cname: str) -> tuple[str, int, int, str | None]:
        """Stripe's card-data checks (docs.stripe.com/testing#invalid-data, error-codes)."""
        for field in ("number", "exp_month", "exp_year"):
            if c.get(field) is None:
                raise InvalidRequestError(f"Missing required param: {cname}[{field}].",
                                          code="parameter_missing", param=f"{cname}[{field}]")
        number = c["number"].replace(" ", "")
        brand_lengths = cards.brand_of(number)[1] if number.isdigit() else frozenset()
        if not number.isdigit() or len(number) not in brand_lengths:
            raise _card_error("invalid_number",
                              "The card number is not a valid credit card number.",
                              f"{cname}[number]")
        if not cards.luhn_ok(number):
            raise _card_error("incorrect_number", "Your card number is incorrect.",
                              f"{cname}[number]")
        month, year = c["exp_month"], c["exp_year"]
        if not 1 <= month <= 12:
            raise _card_error("invalid_expiry_month", "Your card's expiration month is invalid.",
                              f"{cname}[exp_month]")
        if 0 <= year < 100:
            year += 2000
        today = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        # A past year, or more than 50 years ahead, is invalid; a past month of this year is
        # reported on the month (UNVERIFIED which field Stripe names for an expired date).
        if not today.year <= year <= today.year + 50:
            raise _card_error("invalid_expiry_year", "Your card's expiration year is invalid.",
                              f"{cname}[exp_year]")
        if year == today.year and month < today.month:
            raise _card_error("invalid_expiry_month", "Your card's expiration month is invalid.",
                              f"{cname}[exp_month]")
        cvc = c.get("cvc")
        if cvc is not None:
            lengths = (3, 4) if cards.brand_of(number)[0] == "amex" else (3,)
            if not cvc.isdigit() or len(cvc) not in lengths:
                raise _card_error("invalid_cvc", "Your card's security code is invalid.",
                                  f"{cname}[cvc]")
        return number, month, year, cvc

    def create_payment_method(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, PM_CREATE)
        row = self._pm_from_data(acct, p, "")
        return self.expand(acct, row.data, p.get("expand"))

    def _pm(self, acct: Account, ident: str, param: str | None = None) -> Row:
        return self._alias_pm(acct, ident) or self._row(acct, ident, "payment_method", param)

    def retrieve_payment_method(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, RETRIEVE)
        return self.expand(acct, self._pm(acct, ids["id"]).data, p.get("expand"))

    def update_payment_method(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {"billing_details": BILLING_DETAILS, "metadata": Metadata(),
                        "card": Obj({"exp_month": Int(), "exp_year": Int()}),
                        "allow_redisplay": Enum(("always", "limited", "unspecified")),
                        "expand": EXPAND})
        row = self._row(acct, ids["id"], "payment_method")
        pm = row.data
        pm["metadata"] = _merge_metadata(pm["metadata"], p.get("metadata"))
        if p.get("allow_redisplay"):
            pm["allow_redisplay"] = p["allow_redisplay"]
        bd = p.get("billing_details")
        if bd:
            for k in ("email", "name", "phone", "tax_id"):
                if k in bd:
                    pm["billing_details"][k] = bd[k]
            for k, v in (bd.get("address") or {}).items():
                pm["billing_details"]["address"][k] = v
        card = p.get("card") or {}
        if card.get("exp_month") is not None:
            if not 1 <= card["exp_month"] <= 12:
                raise _card_error("invalid_expiry_month",
                                  "Your card's expiration month is invalid.", "card[exp_month]")
            pm["card"]["exp_month"] = card["exp_month"]
        if card.get("exp_year") is not None:
            year = card["exp_year"] + (2000 if 0 <= card["exp_year"] < 100 else 0)
            now_year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
            if not now_year <= year <= now_year + 50:
                raise _card_error("invalid_expiry_year",
                                  "Your card's expiration year is invalid.", "card[exp_year]")
            pm["card"]["exp_year"] = year
        self.store.update(acct.id, pm, row.internal, f1=pm["customer"])
        return self.expand(acct, pm, p.get("expand"))

    def _attach(self, acct: Account, pm_id: str, customer: str, *, param: str | None) -> Row:
        self._row(acct, customer, "customer", param="customer")
        row = self._pm(acct, pm_id, param)
        pm = row.data
        if pm["customer"] == customer:
            return row
        if pm["customer"] is not None:
            raise InvalidRequestError(
                "The payment method you provided has already been attached to a customer.",
                param=param)
        if row.internal.get("consumed"):
            raise InvalidRequestError(PM_REUSE, param=param)
        kind, code, decline_code, message, attachable, _ = row.internal["outcome"]
        if kind == "decline" and not attachable:
            # "You can't attach cards that simulate issuer declines to a Customer object."
            # Nothing is created (a customer created along with it is rolled back too).
            raise CardError(message, code=code, decline_code=decline_code, stored=False)
        pm["customer"] = customer
        self.store.update(acct.id, pm, row.internal, f1=customer)
        return row

    def attach_payment_method(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {"customer": Str(255), "expand": EXPAND})
        customer = require(p, "customer")
        row = self._attach(acct, ids["id"], customer, param=None)
        return self.expand(acct, row.data, p.get("expand"))

    def detach_payment_method(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {"expand": EXPAND})
        row = self._row(acct, ids["id"], "payment_method")
        if row.data["customer"] is None:
            raise InvalidRequestError(
                "The payment method you provided is not attached to a customer so detachment"
                " is impossible.")
        row.data["customer"] = None
        # "Detachment is permanent and irreversible" (PaymentMethods API).
        row.internal["consumed"] = True
        self.store.update(acct.id, row.data, row.internal)
        return self.expand(acct, row.data, p.get("expand"))

    def list_payment_methods(self, acct: Account, ids: Params, raw: Params) -> Json:
        spec = {**LIST_PARAMS, "type": Str(50)}
        if "id" not in ids:
            spec["customer"] = Str(255)
        p = check(raw, spec)
        customer = ids.get("id") or p.get("customer")
        url = f"/v1/customers/{customer}/payment_methods" if "id" in ids else "/v1/payment_methods"
        if customer is not None:
            self._row(acct, customer, "customer", param=None if "id" in ids else "customer")
        if p.get("type") not in (None, "card"):
            return {"object": "list", "data": [], "has_more": False, "url": url}
        return self._list(acct, "payment_method", p, url, f1=customer)

    # --- payment intents ----------------------------------------------------------------------

    def create_payment_intent(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, PI_CREATE)
        amount = require(p, "amount")
        cur = self.policy.currency(require(p, "currency"))
        self.policy.check_charge(amount, cur)
        if p.get("payment_method_types") is not None and p.get("automatic_payment_methods"):
            raise InvalidRequestError(
                "You may only specify one of these parameters: automatic_payment_methods,"
                " payment_method_types.", code="parameters_exclusive",
                param="automatic_payment_methods")
        for i, t in enumerate(p.get("payment_method_types") or ()):
            if t != "card":
                raise InvalidRequestError(
                    f"The payment method type provided: {t} is invalid. This test-mode server"
                    " supports: card.", param=f"payment_method_types[{i}]")
        if p.get("customer"):
            self._row(acct, p["customer"], "customer", param="customer")
        if p.get("payment_method") and p.get("payment_method_data"):
            raise InvalidRequestError(
                "You may only specify one of these parameters: payment_method,"
                " payment_method_data.", code="parameters_exclusive", param="payment_method")
        if p.get("off_session") and not p.get("confirm"):
            raise InvalidRequestError(
                "You can only set off_session when confirm is true.", param="off_session")
        apm = p.get("automatic_payment_methods")
        if p.get("payment_method_types") is None:
            # Since API version 2023-08-16 automatic_payment_methods is on by default.
            apm = {"enabled": True, "allow_redirects": (apm or {}).get("allow_redirects")
                   or "always"} if (apm or {}).get("enabled", True) is not False else None
        else:
            apm = None
        now = self.clock.now()
        pid = new_id("pi")
        pi: Json = {
            "id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_details": {"tip": {}}, "amount_received": 0, "application": None,
            "application_fee_amount": None, "automatic_payment_methods": apm,
            "canceled_at": None, "cancellation_reason": None,
            "capture_method": p.get("capture_method") or "automatic_async",
            "client_secret": f"{pid}_secret_{new_id('x', 25)[2:]}",
            "confirmation_method": p.get("confirmation_method") or "automatic",
            "created": now, "currency": cur.wire, "customer": p.get("customer"),
            "description": p.get("description"), "last_payment_error": None,
            "latest_charge": None, "livemode": False,
            "metadata": _merge_metadata({}, p.get("metadata")), "next_action": None,
            "on_behalf_of": None, "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {
                "installments": None, "mandate_options": None, "network": None,
                "request_three_d_secure": ((p.get("payment_method_options") or {}).get("card")
                                           or {}).get("request_three_d_secure") or "automatic",
                **({"capture_method": "manual"} if ((p.get("payment_method_options") or {})
                                                   .get("card") or {}).get("capture_method")
                   else {})}},
            "payment_method_types": p.get("payment_method_types") or ["card"],
            "processing": None, "receipt_email": p.get("receipt_email"), "review": None,
            "setup_future_usage": p.get("setup_future_usage"), "shipping": None, "source": None,
            "statement_descriptor": p.get("statement_descriptor"),
            "statement_descriptor_suffix": p.get("statement_descriptor_suffix"),
            "status": "requires_payment_method", "transfer_data": None, "transfer_group": None,
        }
        internal: Json = {}
        pm_row = None
        if p.get("payment_method"):
            pm_row = self._pm(acct, p["payment_method"], "payment_method")
        elif p.get("payment_method_data"):
            pm_row = self._pm_from_data(acct, p["payment_method_data"], "payment_method_data")
        if pm_row is not None:
            pi["payment_method"] = pm_row.id
            pi["status"] = "requires_confirmation"
        self.store.insert(acct.id, "payment_intent", pi, internal, f1=pi["customer"])
        if p.get("confirm"):
            self._confirm(acct, Row(0, pid, "payment_intent", pi, internal), pm_row, p)
        return self.expand(acct, pi, p.get("expand"))

    def retrieve_payment_intent(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, RETRIEVE)
        return self.expand(acct, self._row(acct, ids["id"], "payment_intent").data,
                           p.get("expand"))

    def list_payment_intents(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {**LIST_PARAMS, "customer": Str(255)})
        return self._list(acct, "payment_intent", p, "/v1/payment_intents", f1=p.get("customer"))

    def confirm_payment_intent(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, CONFIRM_COMMON)
        row = self._row(acct, ids["id"], "payment_intent")
        pi = row.data
        if pi["status"] not in CONFIRMABLE:
            if pi["status"] == "succeeded":
                msg = ("You cannot confirm this PaymentIntent because it has already succeeded"
                       " after being previously confirmed.")
            else:
                msg = (f"You cannot confirm this PaymentIntent because it has a status of"
                       f" {pi['status']}. Only a PaymentIntent with one of the following statuses"
                       f" may be confirmed: {', '.join(CONFIRMABLE)}.")
            raise InvalidRequestError(msg, code="payment_intent_unexpected_state",
                                      extra={"payment_intent": pi})
        if p.get("capture_method"):
            pi["capture_method"] = p["capture_method"]
        pm_row = None
        if p.get("payment_method"):
            pm_row = self._pm(acct, p["payment_method"], "payment_method")
        elif p.get("payment_method_data"):
            pm_row = self._pm_from_data(acct, p["payment_method_data"], "payment_method_data")
        elif pi["payment_method"]:
            pm_row = self._row(acct, pi["payment_method"], "payment_method")
        self._confirm(acct, row, pm_row, p)
        return self.expand(acct, pi, p.get("expand"))

    def _confirm(self, acct: Account, row: Row, pm_row: Row | None, p: Params) -> None:
        """Attempt the payment. A decline commits the failed charge and the intent's return to
        requires_payment_method, then raises the 402 (lifecycle doc; facts §8)."""
        pi, internal = row.data, row.internal
        if pm_row is None:
            raise InvalidRequestError(
                "You cannot confirm this PaymentIntent because it's missing a payment method."
                " You can either update the PaymentIntent with a payment method and then confirm"
                " it again, or confirm it again directly with a payment method.",
                code="payment_intent_unexpected_state", extra={"payment_intent": pi})
        pm = pm_row.data
        if pm_row.internal.get("consumed"):
            raise InvalidRequestError(PM_REUSE, param="payment_method")
        if pm["customer"] is not None and pm["customer"] != pi["customer"]:
            # Stripe: "Payment methods attached to other Customers cannot be used with this
            # PaymentIntent." (PaymentIntent `customer` docs); exact error text UNVERIFIED.
            raise InvalidRequestError(
                f"The provided PaymentMethod {pm['id']} is attached to another Customer than the"
                " one on this PaymentIntent. Payment methods attached to other Customers cannot"
                " be used with this PaymentIntent.", param="payment_method")
        if p.get("receipt_email"):
            pi["receipt_email"] = p["receipt_email"]
        if p.get("setup_future_usage"):
            pi["setup_future_usage"] = p["setup_future_usage"]
        off_session = bool(p.get("off_session"))
        now = self.clock.now()
        kind, code, decline_code, message, _attachable, off_ok = pm_row.internal["outcome"]
        pi["payment_method"] = pm["id"]
        if pi["customer"] is None:
            # Without a Customer a PaymentMethod is single-use.
            pm_row.internal["consumed"] = True
            self.store.update(acct.id, pm, pm_row.internal, f1=pm["customer"])
        if kind == "authenticate" and not (off_session and off_ok):
            if off_session or p.get("error_on_requires_action"):
                d = cards.AUTHENTICATION_REQUIRED
                kind, code, decline_code, message = d.kind, d.code, d.decline_code, d.message
            else:
                pi["status"] = "requires_action"
                pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {
                    "type": "three_d_secure_redirect", "source": new_id("src")}}
                pi["last_payment_error"] = None
                self.store.update(acct.id, pi, internal, f1=pi["customer"])
                return
        manual = pi["capture_method"] == "manual" or (
            pi["payment_method_options"]["card"].get("capture_method") == "manual")
        charge = self._new_charge(acct, pi, pm, now)
        pi["latest_charge"] = charge["id"]
        pi["next_action"] = None
        if kind == "decline":
            charge.update(status="failed", paid=False, captured=False, amount_captured=0,
                          failure_code=code, failure_message=message)
            charge["outcome"] = (
                {"network_status": "not_sent_to_network", "reason": "highest_risk_level",
                 "risk_level": "highest", "risk_score": 95,
                 "seller_message": "Stripe blocked this payment as too risky.",
                 "type": "blocked"}
                if decline_code == "fraudulent" else
                {"network_status": "declined_by_network", "reason": decline_code or code,
                 "risk_level": "normal", "risk_score": 20,
                 "seller_message": "The bank did not return any further details with this"
                                   " decline.", "type": "issuer_declined"})
            self.store.insert(acct.id, "charge", charge, f1=charge["customer"], f2=pi["id"])
            error: Json = {"type": "card_error", "code": code, "message": message,
                           "charge": charge["id"], "payment_method": pm,
                           "doc_url": "https://stripe.com/docs/error-codes/"
                                      + str(code).replace("_", "-")}
            if decline_code:
                error["decline_code"] = decline_code
            pi["last_payment_error"] = error
            pi["status"] = "requires_payment_method"
            # After a failed attempt the intent no longer carries the payment method.
            pi["payment_method"] = None
            self.store.update(acct.id, pi, internal, f1=pi["customer"])
            raise CardError(str(message), code=code, decline_code=decline_code, stored=True,
                            extra={"charge": charge["id"], "payment_intent": pi,
                                   "payment_method": pm})
        charge["outcome"] = {"network_status": "approved_by_network", "reason": None,
                             "risk_level": "normal", "risk_score": 20,
                             "seller_message": "Payment complete.", "type": "authorized"}
        pi["last_payment_error"] = None
        if manual:
            validity = self.settings.authorization_validity_seconds
            charge["payment_method_details"]["card"]["capture_before"] = now + validity
            charge.update(captured=False, amount_captured=0)
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            internal["authorized_at"] = now
        else:
            charge.update(captured=True, amount_captured=pi["amount"])
            pi.update(status="succeeded", amount_received=pi["amount"], amount_capturable=0)
        self.store.insert(acct.id, "charge", charge, f1=charge["customer"], f2=pi["id"])
        if pi.get("setup_future_usage") and pi["customer"] and pm["customer"] is None:
            self._attach(acct, pm["id"], pi["customer"], param="payment_method")
        self.store.update(acct.id, pi, internal, f1=pi["customer"])

    def _new_charge(self, acct: Account, pi: Json, pm: Json, now: int) -> Json:
        card = pm["card"]
        return {
            "id": new_id("ch"), "object": "charge", "amount": pi["amount"],
            "amount_captured": 0, "amount_refunded": 0, "application": None,
            "application_fee": None, "application_fee_amount": None,
            "balance_transaction": None, "billing_details": pm["billing_details"],
            "calculated_statement_descriptor": "AMCI TESTMODE", "captured": False,
            "created": now, "currency": pi["currency"], "customer": pi["customer"],
            "description": pi["description"], "disputed": False,
            "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
            "fraud_details": {}, "livemode": False, "metadata": {}, "on_behalf_of": None,
            "outcome": None, "paid": True, "payment_intent": pi["id"], "payment_method": pm["id"],
            "payment_method_details": {"card": {
                "amount_authorized": pi["amount"], "brand": card["brand"], "capture_before": None,
                "checks": card["checks"], "country": card["country"],
                "exp_month": card["exp_month"], "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"], "funding": card["funding"],
                "last4": card["last4"], "network": card["brand"], "three_d_secure": None,
                "wallet": None}, "type": "card"},
            "receipt_email": pi["receipt_email"], "receipt_url": None, "refunded": False,
            "review": None, "shipping": None, "source_transfer": None,
            "statement_descriptor": pi["statement_descriptor"],
            "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
            "status": "succeeded",
        }

    def _expire_authorization(self, acct: Account, row: Row) -> None:
        """Lazily cancel a manual-capture intent whose authorization has expired: "If the
        authorization expires before you capture the funds, the funds are released and the
        payment status changes to canceled" (place-a-hold-on-a-payment-method)."""
        pi = row.data
        authorized_at = row.internal.get("authorized_at")
        if pi["status"] != "requires_capture" or authorized_at is None:
            return
        expires = authorized_at + self.settings.authorization_validity_seconds
        if self.clock.now() < expires:
            return
        # UNVERIFIED which cancellation_reason Stripe sets on expiry (`automatic` or `expired`,
        # facts §8); `automatic` is the Stripe-generated reason for cancellations it makes.
        pi.update(status="canceled", cancellation_reason="automatic", canceled_at=expires,
                  amount_capturable=0)
        self.store.update(acct.id, pi, row.internal, f1=pi["customer"])
        self._release_charge(acct, pi.get("latest_charge"))

    def _release_charge(self, acct: Account, charge_id: str | None) -> None:
        if not charge_id:
            return
        ch = self.store.get(acct.id, charge_id)
        if ch is None or ch.data["status"] != "succeeded" or ch.data["captured"]:
            return
        # Releasing an uncaptured authorization shows as a full refund on the charge.
        ch.data.update(refunded=True, amount_refunded=ch.data["amount"])
        self.store.update(acct.id, ch.data, ch.internal, f1=ch.data["customer"],
                          f2=ch.data["payment_intent"])

    def capture_payment_intent(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, CAPTURE)
        row = self._row(acct, ids["id"], "payment_intent")
        pi = row.data
        if pi["status"] != "requires_capture":
            raise InvalidRequestError(
                f"This PaymentIntent could not be captured because it has a status of"
                f" {pi['status']}. Only a PaymentIntent with one of the following statuses may be"
                f" captured: requires_capture.", code="payment_intent_unexpected_state",
                extra={"payment_intent": pi})
        amount = p.get("amount_to_capture")
        if amount is None:
            amount = pi["amount_capturable"]
        cur = money.currency(pi["currency"])
        self.policy.check_charge(amount, cur, "amount_to_capture")
        if amount > pi["amount_capturable"]:
            # "amount_to_capture … must be less than or equal to the original amount"; wording
            # of the error UNVERIFIED.
            raise InvalidRequestError(
                "The amount to capture must be less than or equal to the amount capturable"
                f" ({fmt(pi['amount_capturable'], cur)}).", code="amount_too_large",
                param="amount_to_capture")
        ch = self.store.get(acct.id, pi["latest_charge"])
        assert ch is not None
        ch.data.update(captured=True, amount_captured=amount)
        ch.data["payment_method_details"]["card"]["capture_before"] = None
        self.store.update(acct.id, ch.data, ch.internal, f1=ch.data["customer"],
                          f2=pi["id"])
        pi["metadata"] = _merge_metadata(pi["metadata"], p.get("metadata"))
        pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.store.update(acct.id, pi, row.internal, f1=pi["customer"])
        return self.expand(acct, pi, p.get("expand"))

    def cancel_payment_intent(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, CANCEL)
        row = self._row(acct, ids["id"], "payment_intent")
        pi = row.data
        if pi["status"] not in CANCELABLE:
            raise InvalidRequestError(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}."
                f" Only a PaymentIntent with one of the following statuses may be canceled:"
                f" {', '.join(CANCELABLE)}.", code="payment_intent_unexpected_state",
                extra={"payment_intent": pi})
        was_authorized = pi["status"] == "requires_capture"
        pi.update(status="canceled", canceled_at=self.clock.now(), amount_capturable=0,
                  cancellation_reason=p.get("cancellation_reason"), next_action=None)
        self.store.update(acct.id, pi, row.internal, f1=pi["customer"])
        if was_authorized:
            self._release_charge(acct, pi["latest_charge"])
        return self.expand(acct, pi, p.get("expand"))

    # --- charges and refunds ------------------------------------------------------------------

    def retrieve_charge(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, RETRIEVE)
        return self.expand(acct, self._row(acct, ids["id"], "charge").data, p.get("expand"))

    def list_charges(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {**LIST_PARAMS, "customer": Str(255), "payment_intent": Str(255)})
        return self._list(acct, "charge", p, "/v1/charges", f1=p.get("customer"),
                          f2=p.get("payment_intent"))

    def create_refund(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, REFUND)
        if p.get("charge") and p.get("payment_intent"):
            raise InvalidRequestError(
                "You may only specify one of these parameters: charge, payment_intent.",
                code="parameters_exclusive", param="payment_intent")
        if p.get("payment_intent"):
            pi = self._row(acct, p["payment_intent"], "payment_intent", param="payment_intent")
            if pi.data["status"] != "succeeded" or not pi.data["latest_charge"]:
                raise InvalidRequestError(
                    f"This PaymentIntent ({pi.id}) does not have a successful charge to refund.",
                    param="payment_intent")
            ch = self._row(acct, pi.data["latest_charge"], "charge")
        elif p.get("charge"):
            ch = self._row(acct, p["charge"], "charge", param="charge")
        else:
            raise InvalidRequestError(
                "One of the following params should be provided for this request: charge or"
                " payment_intent.", code="parameter_missing", param="charge")
        charge = ch.data
        if charge["status"] != "succeeded" or not charge["captured"]:
            raise InvalidRequestError(
                f"Charge {charge['id']} has not been captured; cancel its PaymentIntent to"
                " release the authorization instead.", param="charge")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        cur = money.currency(charge["currency"])
        if remaining <= 0:
            raise InvalidRequestError(f"Charge {charge['id']} has already been refunded.",
                                      code="charge_already_refunded")
        amount = p.get("amount")
        if amount is None:
            amount = remaining
        self.policy.check_shape(amount, cur)
        if amount > remaining:
            raise InvalidRequestError(
                f"Refund amount ({fmt(amount, cur)}) is greater than unrefunded amount on charge"
                f" ({fmt(remaining, cur)})", param="amount")
        refund: Json = {
            "id": new_id("re"), "object": "refund", "amount": amount,
            "balance_transaction": None, "charge": charge["id"], "created": self.clock.now(),
            "currency": charge["currency"],
            "destination_details": {"card": {"reference_status": "pending",
                                             "reference_type": "acquirer_reference_number",
                                             "type": "refund"}, "type": "card"},
            "metadata": _merge_metadata({}, p.get("metadata")),
            "payment_intent": charge["payment_intent"], "reason": p.get("reason"),
            "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
            "transfer_reversal": None,
        }
        self.store.insert(acct.id, "refund", refund, f1=charge["id"],
                          f2=charge["payment_intent"])
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self.store.update(acct.id, charge, ch.internal, f1=charge["customer"],
                          f2=charge["payment_intent"])
        return self.expand(acct, refund, p.get("expand"))

    def retrieve_refund(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, RETRIEVE)
        return self.expand(acct, self._row(acct, ids["id"], "refund").data, p.get("expand"))

    def list_refunds(self, acct: Account, ids: Params, raw: Params) -> Json:
        p = check(raw, {**LIST_PARAMS, "charge": Str(255), "payment_intent": Str(255)})
        return self._list(acct, "refund", p, "/v1/refunds", f1=p.get("charge"),
                          f2=p.get("payment_intent"))


Endpoint = Callable[[Engine, Account, Params, Params], Json]

# (method, path template, engine method): the whole v1 surface of the test-mode server.
ROUTES: tuple[tuple[str, str, Endpoint], ...] = (
    ("POST", "/v1/customers", Engine.create_customer),
    ("GET", "/v1/customers", Engine.list_customers),
    ("GET", "/v1/customers/{id}", Engine.retrieve_customer),
    ("POST", "/v1/customers/{id}", Engine.update_customer),
    ("DELETE", "/v1/customers/{id}", Engine.delete_customer),
    ("GET", "/v1/customers/{id}/payment_methods", Engine.list_payment_methods),
    ("POST", "/v1/payment_methods", Engine.create_payment_method),
    ("GET", "/v1/payment_methods", Engine.list_payment_methods),
    ("GET", "/v1/payment_methods/{id}", Engine.retrieve_payment_method),
    ("POST", "/v1/payment_methods/{id}", Engine.update_payment_method),
    ("POST", "/v1/payment_methods/{id}/attach", Engine.attach_payment_method),
    ("POST", "/v1/payment_methods/{id}/detach", Engine.detach_payment_method),
    ("POST", "/v1/payment_intents", Engine.create_payment_intent),
    ("GET", "/v1/payment_intents", Engine.list_payment_intents),
    ("GET", "/v1/payment_intents/{id}", Engine.retrieve_payment_intent),
    ("POST", "/v1/payment_intents/{id}/confirm", Engine.confirm_payment_intent),
    ("POST", "/v1/payment_intents/{id}/capture", Engine.capture_payment_intent),
    ("POST", "/v1/payment_intents/{id}/cancel", Engine.cancel_payment_intent),
    ("GET", "/v1/charges", Engine.list_charges),
    ("GET", "/v1/charges/{id}", Engine.retrieve_charge),
    ("POST", "/v1/refunds", Engine.create_refund),
    ("GET", "/v1/refunds", Engine.list_refunds),
    ("GET", "/v1/refunds/{id}", Engine.retrieve_refund),
)

__all__ = ["ROUTES", "Engine", "StripeError"]
