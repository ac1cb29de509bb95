"""Both services' OpenAPI documents are valid OpenAPI 3.1 (route coverage is tested per service,
in tests/amci/test_openapi.py and tests/billing_client/api/test_routes.py)."""

from typing import Any

import pytest
from openapi_spec_validator import validate

from amci.openapi import document
from billing_client.openapi import document as billing_client_document


@pytest.mark.parametrize(
    "load", [document, billing_client_document], ids=["amci", "billing_client"]
)
def test_document_is_valid_openapi_3_1(load: Any) -> None:
    doc = load()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any schema violation
