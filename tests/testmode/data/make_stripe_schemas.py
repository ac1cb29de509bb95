"""Regenerate ``stripe-schemas.json``: Stripe's response schemas, trimmed, as JSON Schema.

    python tests/testmode/data/make_stripe_schemas.py SPEC3_YAML FIXTURES3_JSON

Inputs (from github.com/stripe/openapi, MIT): ``openapi/spec3.yaml`` (the API description) and
``openapi/fixtures3.json`` (one current example object per resource, "with every field Stripe
returns by default"). The description is older than the API version the SDK pins, so:
- types and enums come from the description's ``components/schemas``;
- the *presence* of a field on the top-level objects and on the card sub-objects comes from the
  current fixture (newest source wins); fields the fixture has and the description lacks are
  typed ``{}`` (anything);
- top-level objects refuse properties neither source knows (a made-up field fails).
Only the schemas reachable from the objects the test mode serves are kept; payment-method types
other than ``card`` are cut (typed ``{}``), so the file stays small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOTS = ("customer", "deleted_customer", "payment_method", "payment_intent", "charge", "refund",
         "setup_intent", "setup_attempt", "error", "event", "webhook_endpoint",
         "deleted_webhook_endpoint", "dispute")
# Objects whose fixture keys are the fields "returned by default" (path in the fixture).
FIXTURE_REQUIRED = {
    "customer": ("customer",), "deleted_customer": ("deleted_customer",),
    "payment_method": ("payment_method",), "payment_intent": ("payment_intent",),
    "charge": ("charge",), "refund": ("refund",), "setup_intent": ("setup_intent",),
    "setup_attempt": ("setup_attempt",),
    "event": ("event",), "webhook_endpoint": ("webhook_endpoint",),
    "deleted_webhook_endpoint": ("deleted_webhook_endpoint",), "dispute": ("dispute",),
    "payment_method_card": ("payment_method", "card"),
    "payment_method_details_card": ("charge", "payment_method_details", "card"),
    "billing_details": ("payment_method", "billing_details"),
}
# Not returned by default since API 2022-11-15 (the fixture generator lists it anyway).
NOT_DEFAULT = {"charge": {"refunds"}}
# Containers keyed by payment-method type: only ``card`` (and the type-independent fields) kept.
BY_TYPE = {"payment_method", "payment_method_details", "payment_intent_payment_method_options",
           "setup_intent_payment_method_options", "setup_attempt_payment_method_details",
           "payment_intent_next_action", "setup_intent_next_action",
           "mandate_payment_method_details"}
KEEP_IN_BY_TYPE = {"card", "type", "billing_details", "customer", "metadata", "id", "object",
                   "created", "livemode", "allow_redisplay", "radar_options", "redirect_to_url",
                   "use_stripe_sdk"}
# Deep polymorphic corners nobody returns from the test mode: typed {} rather than pulled in.
CUT = {"source", "account", "application", "application_fee", "transfer", "review",
       "balance_transaction", "invoice", "mandate", "test_helpers.test_clock", "discount",
       "bank_account", "card", "deleted_bank_account", "deleted_card", "cash_balance",
       "payment_method_configuration_details", "subscription", "tax_id", "invoice_item",
       "coupon", "promotion_code", "transfer_reversal", "refund_destination_details",
       "deleted_account", "setup_attempt_payment_method_details_card_present",
       "charge_transfer_data", "payment_intent_processing",
       "linked_account_options_us_bank_account"}


def convert(node: Any, keep: set[str], todo: list[str], parent: str | None = None) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in CUT:
            return {}
        if name not in keep:
            keep.add(name)
            todo.append(name)
        return {"$ref": f"#/$defs/{name}"}
    out: dict[str, Any] = {}
    for key in ("type", "enum", "maxLength", "required"):
        if key in node:
            out[key] = node[key]
    if node.get("format") == "unix-time":
        out["type"] = "integer"
    if "properties" in node:
        props = {}
        for k, v in node["properties"].items():
            if parent in BY_TYPE and k not in KEEP_IN_BY_TYPE:
                props[k] = {}
            else:
                props[k] = convert(v, keep, todo)
        out["properties"] = props
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = convert(node["additionalProperties"], keep, todo)
    if "items" in node:
        out["items"] = convert(node["items"], keep, todo)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out["anyOf"] = [convert(v, keep, todo) for v in node[key]]
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]} if out else {}
    return out


def build(spec: dict[str, Any], fixtures: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    keep: set[str] = set(ROOTS)
    todo = list(ROOTS)
    defs: dict[str, Any] = {}
    while todo:
        name = todo.pop()
        defs[name] = convert(schemas[name], keep, todo, parent=name)
    for name, path in FIXTURE_REQUIRED.items():
        example: Any = fixtures
        for seg in path:
            example = example[seg]
        d = defs[name]
        props = d.setdefault("properties", {})
        for k in example:
            props.setdefault(k, {})
        d["required"] = sorted(set(example) - NOT_DEFAULT.get(name, set())
                               | set(d.get("required", ())))
        if name in ROOTS:
            d["additionalProperties"] = False
    return dict(sorted(defs.items()))


def main(spec_path: str, fixtures_path: str) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # both safe; C is 10x faster
    spec = yaml.load(Path(spec_path).read_text(), Loader=loader)  # noqa: S506
    fixtures = json.loads(Path(fixtures_path).read_text())["resources"]
    out = {
        "source": {
            "description": "github.com/stripe/openapi openapi/spec3.yaml at commit"
                           " 63a674638635c68de26b9f3add13e58198f4df44 (info.version"
                           f" {spec['info']['version']}), components/schemas",
            "fixtures": "github.com/stripe/openapi openapi/fixtures3.json at commit"
                        " f6c2a48fbac2819d1feba8143d942ffc65e1c0d2 (field presence)",
            "licence": "MIT (Stripe, Inc.)",
            "generated_by": "tests/testmode/data/make_stripe_schemas.py",
        },
        "$defs": build(spec, fixtures),
    }
    dest = Path(__file__).with_name("stripe-schemas.json")
    dest.write_text(json.dumps(out, indent=None, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{dest}: {len(out['$defs'])} schemas, {dest.stat().st_size} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
