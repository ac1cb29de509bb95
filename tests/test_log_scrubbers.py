"""The log scrubber (``httpkit.scrub``), as each service's logs module exposes it
(``amci.logs.scrub``, ``billing_client.logs.scrub``), held to one corpus: every secret in it
removed, the harmless text left alone. The formatters apply it to messages, fields and
tracebacks."""

from __future__ import annotations

import io
import json
import logging

import pytest

from amci import logs as amci_logs
from billing_client import logs as bc_logs

SCRUBBERS = [amci_logs.scrub, bc_logs.scrub]

# (text, secrets that must be gone)
SECRET_CORPUS = [
    ("Authorization: Basic ZGVtby1sb2dpbjpza190ZXN0X3NlY3JldA==",
     ["ZGVtby1sb2dpbjpza190ZXN0X3NlY3JldA=="]),
    ("b'Authorization: Basic ZGVtbzpza190ZXN0X3h4eA==\\x01'", ["ZGVtbzpza190ZXN0X3h4eA=="]),
    ("b'Authorization : Basic ZGVtbzpza190ZXN0X3h4eA=='", ["ZGVtbzpza190ZXN0X3h4eA=="]),
    ("authorization=Token abc123secret; path=/", ["abc123secret"]),
    ("Proxy-Authorization: Digest username=x, response=deadbeef", ["deadbeef"]),
    ("bearer eyJhbGciOiJIUzI1NiJ9.e30.signature", ["eyJhbGciOiJIUzI1NiJ9"]),
    ("key=sk_test_51HqLyjWDarjtT1zdp7dcXYZ", ["51HqLyjWDarjtT1zdp7dcXYZ"]),
    ("rk_live_abcdefghijklmnop1234 and whsec_0123456789abcdefABCDEF",
     ["abcdefghijklmnop1234", "0123456789abcdefABCDEF"]),
    ("card 4242424242424242 declined", ["4242424242424242"]),
    ("card 4242 4242 4242 4242 declined", ["4242 4242 4242 4242"]),
    ("card 4242-4242-4242-4242", ["4242-4242-4242-4242"]),
    ("amex 378282246310005, diners 36227206271667", ["378282246310005", "36227206271667"]),
    ("unionpay 6205500000000000004", ["6205500000000000004"]),
    ("amount 100 4242424242424242", ["4242424242424242"]),
    ('{"cvc": "123", "number": "x"}', ['"123"']),
    ("card[cvc]=987&card[number]=x", ["987"]),
    ("'cvv': 1234", ["1234"]),
    ("cvc2: 555", ["555"]),
]

# Text that is not secret and must come out unchanged. (Long digit runs are masked when any
# 12-19 digit stretch of them passes Luhn: a PAN next to other digits is still a PAN.)
HARMLESS = [
    "sk_test_…wxyz",
    '{"ts":1796024549.382027,"duration_ms":12.5,"status":402}',
    "pi_3QxAbcDEFghiJKL0123 succeeded",
    "order 12345678901 (11 digits)",
    "short runs: 2026 11 30, 1234-5678",
    "payment authorization expired",
    "last4 4242, brand visa",
]


@pytest.mark.parametrize(("text", "secrets"), SECRET_CORPUS)
def test_every_secret_is_removed_by_both(text: str, secrets: list[str]) -> None:
    outputs = [scrub(text) for scrub in SCRUBBERS]
    assert outputs[0] == outputs[1]
    for secret in secrets:
        assert secret not in outputs[0], outputs[0]


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_left_alone_by_both(text: str) -> None:
    assert [scrub(text) for scrub in SCRUBBERS] == [text, text]


def test_scrubbing_is_idempotent() -> None:
    for text, _ in SECRET_CORPUS:
        for scrub in SCRUBBERS:
            assert scrub(scrub(text)) == scrub(text)


def _record(logger: str) -> logging.LogRecord:
    try:
        raise ValueError("bad card 4000056655665556 with sk_test_TracebackKey0123456789")
    except ValueError as exc:
        return logging.LogRecord(
            logger, logging.ERROR, __file__, 1, "Error handling %s", ("Bearer sk_test_ArgKey99",),
            (ValueError, exc, exc.__traceback__),
        )


@pytest.mark.parametrize(
    ("formatter", "fields_attr"),
    [(amci_logs.JsonFormatter(), amci_logs.FIELDS_ATTR), (bc_logs.JsonFormatter(),
                                                           bc_logs.FIELDS_ATTR)],
)
def test_the_formatters_scrub_messages_fields_and_tracebacks(
    formatter: logging.Formatter, fields_attr: str
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    record = _record("aiohttp.server")
    setattr(record, fields_attr, {"note": "Authorization: Basic c2VjcmV0", "pan": 4242424242424242})
    handler.emit(record)
    line = stream.getvalue()
    entry = json.loads(line)
    for secret in ("4000056655665556", "TracebackKey0123456789", "ArgKey99", "c2VjcmV0",
                   "4242424242424242"):
        assert secret not in line
    assert "ValueError" in entry["exception"] and entry["pan"] == "••••4242"
