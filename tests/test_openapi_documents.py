"""Both services' OpenAPI documents are valid OpenAPI 3.1 (route coverage is tested per service,
in tests/amci/test_openapi.py and tests/billing_client/test_api.py)."""

import json
from importlib import resources
from typing import Any

import pytest
from openapi_spec_validator import validate

from amci.openapi import document


def _billing_client_document() -> Any:
    return json.loads(resources.files("billing_client").joinpath("openapi.json").read_text())


@pytest.mark.parametrize(
    "load", [document, _billing_client_document], ids=["amci", "billing_client"]
)
def test_document_is_valid_openapi_3_1(load: Any) -> None:
    doc = load()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any schema violation
