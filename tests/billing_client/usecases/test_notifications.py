"""AMCI's notifications into the billing client (``POST /notifications/amci``), over loopback HTTP
with the real AMCI app and test mode behind it: only a valid ``AMCI-Signature`` is heard (either
secret of a rotation), each notification is applied once by id, and per payment only in
``sequence`` order (older news changes nothing)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from httpkit import signature as signatures

from ..conftest import VISA, setup_stripe

SECRETS = ("new-secret", "old-secret")


async def _post(bc: TestClient[Any, Any], note: dict[str, Any], secret: str = "old-secret",
                t: int | None = None) -> tuple[int, Any]:
    body = json.dumps(note).encode()
    header = signatures.sign(body, [secret], int(time.time()) if t is None else t)
    r = await bc.post("/notifications/amci", data=body,
                      headers={"AMCI-Signature": header, "Content-Type": "application/json"})
    return r.status, await r.json()


def _note(nid: str, seq: int, payment: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"object": "notification", "id": nid, "type": "authorization.expired",
            "sequence": seq, "payment": payment["id"], "card": None, "created": 1,
            "livemode": False, "subscription": "demo", "event": "evt_1", "some_new_field": 1,
            "data": {"fresh": True, "payment": payment, **data}}


async def test_signed_once_in_order(amci: TestServer, make_billing: Any) -> None:
    bc = await make_billing(str(amci.make_url("")).rstrip("/"),
                            amci_notification_secrets=SECRETS)
    ids = await setup_stripe(bc)
    r = await bc.post(f"/api/customers/{ids['customer']}/payments",
                      json={"amount": "10.00", "type": "authorization", "card": VISA})
    held = await r.json()
    assert held["status"] == "authorized", held
    # The payment as AMCI would send it after the authorization expired.
    async with bc.session.get(f"{str(amci.make_url('')).rstrip('/')}/v1/stripe/payments/"
                              f"{held['amci']['payment']}", headers=_basic()) as got:
        payment = await got.json()
    expired = {**payment, "status": "canceled", "cancellation_reason": "automatic"}
    succeeded = {**payment, "status": "succeeded"}

    # Unsigned, badly signed, signed with a stranger's secret, too old: refused, nothing changes.
    body = json.dumps(_note("ntf_a", 2, expired)).encode()
    for headers in ({}, {"AMCI-Signature": "t=1,v1=00"}):
        r = await bc.post("/notifications/amci", data=body, headers=headers)
        assert r.status == 400 and (await r.json())["error"]["code"] == "signature_invalid"
    assert (await _post(bc, _note("ntf_a", 2, expired), secret="stranger"))[0] == 400
    assert (await _post(bc, _note("ntf_a", 2, expired), t=int(time.time()) - 301))[0] == 400
    assert await _status(bc, held["id"]) == "authorized"

    # Signed with either secret of the rotation: applied once.
    assert await _post(bc, _note("ntf_a", 2, expired)) == (200, {"received": True})
    assert await _status(bc, held["id"]) == "expired"
    assert (await _post(bc, _note("ntf_a", 2, expired), secret="new-secret"))[0] == 200
    # Older news (a lower sequence, delivered late) changes nothing.
    assert (await _post(bc, _note("ntf_b", 1, succeeded)))[0] == 200
    assert await _status(bc, held["id"]) == "expired"
    # A payment this billing client never made: accepted, nothing to change.
    assert (await _post(bc, _note("ntf_c", 1, {**expired, "id": "pi_elsewhere"})))[0] == 200
    # Not a notification at all.
    assert (await _post(bc, {"id": "ntf_d"}))[0] == 400
    metrics = await (await bc.get("/metrics")).text()
    for outcome, n in (("applied", 1), ("duplicate", 1), ("stale", 1), ("unmatched", 1),
                       ("signature_invalid", 4)):
        assert f'billing_client_amci_notifications_total{{outcome="{outcome}"}} {n}.0' \
            in metrics, outcome


async def _status(bc: TestClient[Any, Any], txn_id: str) -> str:
    return str((await (await bc.get(f"/api/transactions/{txn_id}")).json())["status"])


def _basic() -> dict[str, str]:
    import base64

    from ..conftest import LOGIN, STRIPE_KEY

    return {"Authorization": "Basic " + base64.b64encode(f"{LOGIN}:{STRIPE_KEY}".encode()).decode()}
