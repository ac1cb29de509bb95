"""Regenerate ``amci/testmode/stripe-params.json``: the documented request parameters of every
endpoint the test mode serves, with their types, from Stripe's OpenAPI description.

    python tests/testmode/data/make_stripe_params.py SPEC3_YAML

Input: ``openapi/spec3.yaml`` of github.com/stripe/openapi (MIT). Each parameter becomes a small
type node (``str``/``int``/``bool``/``num``/``enum``/``obj``/``map``/``list``/``any``/``loose``)
that ``amci.testmode.params`` turns into the wire checks. Payment-method types other than
``card`` inside ``payment_method_data`` / ``payment_method_options`` are kept as ``loose``
(accepted, shape not checked: only cards are simulated), which keeps the file small.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

DEST = Path(__file__).resolve().parents[3] / "amci" / "testmode" / "stripe-params.json"
# (method, Stripe's path) for every endpoint served, including those being added.
ENDPOINTS = [
    ("post", "/v1/customers"), ("get", "/v1/customers"), ("get", "/v1/customers/search"),
    ("get", "/v1/customers/{customer}"), ("post", "/v1/customers/{customer}"),
    ("delete", "/v1/customers/{customer}"),
    ("get", "/v1/customers/{customer}/payment_methods"),
    ("post", "/v1/payment_methods"), ("get", "/v1/payment_methods"),
    ("get", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}/attach"),
    ("post", "/v1/payment_methods/{payment_method}/detach"),
    ("post", "/v1/payment_intents"), ("get", "/v1/payment_intents"),
    ("get", "/v1/payment_intents/search"), ("get", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}/confirm"),
    ("post", "/v1/payment_intents/{intent}/capture"),
    ("post", "/v1/payment_intents/{intent}/cancel"),
    ("get", "/v1/charges"), ("get", "/v1/charges/search"), ("get", "/v1/charges/{charge}"),
    ("post", "/v1/refunds"), ("get", "/v1/refunds"), ("get", "/v1/refunds/{refund}"),
    ("post", "/v1/refunds/{refund}"),
    ("post", "/v1/setup_intents"), ("get", "/v1/setup_intents"),
    ("get", "/v1/setup_intents/{intent}"), ("post", "/v1/setup_intents/{intent}"),
    ("post", "/v1/setup_intents/{intent}/confirm"),
    ("post", "/v1/setup_intents/{intent}/cancel"), ("get", "/v1/setup_attempts"),
    ("get", "/v1/events"), ("get", "/v1/events/{id}"),
    ("post", "/v1/webhook_endpoints"), ("get", "/v1/webhook_endpoints"),
    ("get", "/v1/webhook_endpoints/{webhook_endpoint}"),
    ("post", "/v1/webhook_endpoints/{webhook_endpoint}"),
    ("delete", "/v1/webhook_endpoints/{webhook_endpoint}"),
    ("get", "/v1/disputes"), ("get", "/v1/disputes/{dispute}"),
    ("post", "/v1/disputes/{dispute}"), ("post", "/v1/disputes/{dispute}/close"),
]
BY_TYPE = {"payment_method_data", "payment_method_options"}
KEEP_IN_BY_TYPE = {"card", "type", "billing_details", "metadata", "allow_redisplay",
                   "radar_options", "customer", "expand", "payment_method"}


def node(schema: dict[str, Any], name: str = "") -> dict[str, Any]:
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("enum") != [""]]  # "" = unset: wire does
        converted = [node(o, name) for o in options]
        return converted[0] if len(converted) == 1 else {"t": "any", "o": converted}
    kind = schema.get("type")
    if "enum" in schema:
        return {"t": "enum", "v": schema["enum"]}
    if kind == "string":
        if schema.get("format") == "decimal":
            return {"t": "num"}
        return {"t": "str", "max": schema.get("maxLength", 5000)}
    if kind == "integer" or schema.get("format") == "unix-time":
        return {"t": "int"}
    if kind == "number":
        return {"t": "num"}
    if kind == "boolean":
        return {"t": "bool"}
    if kind == "array":
        return {"t": "list", "i": node(schema.get("items", {}), name)}
    if kind == "object" or "properties" in schema:
        if "properties" not in schema:
            return {"t": "map"}
        fields = {}
        for k, v in schema["properties"].items():
            if name in BY_TYPE and k not in KEEP_IN_BY_TYPE:
                fields[k] = {"t": "loose"}
            else:
                fields[k] = node(v, k)
        return {"t": "obj", "f": fields}
    return {"t": "loose"}


def endpoint_params(op: dict[str, Any], by_type: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in op.get("parameters", ()):
        if p["in"] == "query":
            out[p["name"]] = node(p["schema"], p["name"])
    body = (op.get("requestBody") or {}).get("content", {}).get(
        "application/x-www-form-urlencoded", {}).get("schema", {})
    for k, v in (body.get("properties") or {}).items():
        out[k] = {"t": "loose"} if by_type and k not in KEEP_IN_BY_TYPE else node(v, k)
    return dict(sorted(out.items()))


def required(op: dict[str, Any]) -> list[str]:
    names = [p["name"] for p in op.get("parameters", ())
             if p["in"] == "query" and p.get("required")]
    body = (op.get("requestBody") or {}).get("content", {}).get(
        "application/x-www-form-urlencoded", {}).get("schema", {})
    return sorted(names + list(body.get("required", ())))


def main(spec_path: str) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # both safe; C is 10x faster
    spec = yaml.load(Path(spec_path).read_text(), Loader=loader)  # noqa: S506
    endpoints = {}
    needed = {}
    for method, path in ENDPOINTS:
        ours = re.sub(r"\{[a-z_]+\}", "{id}", path)
        # PaymentMethod create takes each type's details at the top level.
        by_type = (method, path) == ("post", "/v1/payment_methods")
        endpoints[f"{method.upper()} {ours}"] = endpoint_params(spec["paths"][path][method],
                                                               by_type)
        if required(spec["paths"][path][method]):
            needed[f"{method.upper()} {ours}"] = required(spec["paths"][path][method])
    out = {
        "source": "github.com/stripe/openapi openapi/spec3.yaml at commit"
                  " 63a674638635c68de26b9f3add13e58198f4df44 (API version"
                  f" {spec['info']['version']}); MIT licence (Stripe, Inc.); generated by"
                  " tests/testmode/data/make_stripe_params.py",
        "endpoints": endpoints,
        "required": needed,
    }
    DEST.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{DEST}: {len(endpoints)} endpoints, {DEST.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
