"""A bounded schemathesis run over every operation of /api/schema/: no 5xx, and every answer as documented.

The app is called in-process through its WSGI entry point, authenticated with
an admin API key of a fresh organization, with valid and invalid inputs that
Hypothesis derives from the schema. The seed is fixed (derandomize) and the
example budget small, so the run is repeatable and takes a minute or two; raise
SCHEMATHESIS_MAX_EXAMPLES to dig deeper locally.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from config.wsgi import application
from tests.factories import ApiKeyFactory, IntegrationFactory, OrganizationFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django closes connections around each real WSGI request; the test's transaction (and its key) must stay."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_key(db):
    organization = OrganizationFactory()
    IntegrationFactory(organization=organization, provider="sandbox", code="demo-shop")
    _, raw = ApiKeyFactory.create_with_raw(organization=organization, role="admin")
    return raw


@pytest.mark.contract
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, admin_key):
    case.call_and_validate(headers={"Authorization": f"Api-Key {admin_key}"}, checks=CHECKS)
