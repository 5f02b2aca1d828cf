"""The ANAF connector and VAT lookups against recorded answers (tests/fixtures/anaf/), one test per fixture.

ANAF's host is real: `connectors.outbound.resolve` is patched to a public address and `responses` answers. The
lookup cache and the shared rate bucket are cleared around every test.
"""

from __future__ import annotations

import json
import uuid

import pytest
import responses
from django.core.cache import cache

from config.errors import ValidationError
from connectors import registry
from connectors.anaf import client as anaf_client
from connectors.anaf.client import MAX_PER_REQUEST
from connectors.anaf.connector import AnafConnector
from connectors.anaf.cui import check_digit, is_valid, normalize_cui
from connectors.anaf.services import vat_lookup
from connectors.errors import ProviderError, ProviderUnavailable
from connectors.sessions import close_sessions
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors.http_fakes import fake_public_dns
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

URL = "https://webservicesp.anaf.ro/api/PlatitorTvaRest/v9/tva"


fixture = Recorded("anaf")


def replay(name: str) -> None:
    fixture.replay("POST", URL, name)


def sent(call) -> list[dict]:
    return json.loads(call.request.body)


def valid_cuis(count: int, start: int = 1000000) -> list[str]:
    found, body = [], start
    while len(found) < count:
        found.append(f"{body}{check_digit(str(body))}")
        body += 1
    return found


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    cache.clear()
    monkeypatch.setattr(anaf_client, "RATE_KEY", f"anaf:test:{uuid.uuid4().hex}")  # a full bucket per test
    yield
    cache.clear()


@pytest.fixture
def integration(db, monkeypatch, settings, sleeps):
    settings.PROVIDER_MAX_RETRIES = 1
    fake_public_dns(monkeypatch)
    row = IntegrationFactory(provider="anaf", type="tax", code="anaf", config={"cui": "RO14399840"})
    yield row
    close_sessions()


# ---------------------------------------------------------------------- CUIs
def test_the_registry_knows_anaf_and_its_rate():
    cls = registry.get("anaf")
    assert cls is AnafConnector
    assert cls.describe()["capabilities"] == ["tax_lookup"] and cls.describe()["auth_kind"] == "none"
    assert cls.describe()["rate_limit"] == {"requests": 1, "per_seconds": 1.0}


@pytest.mark.parametrize("given", ["RO14399840", "ro 14399840", "14399840", " 14.399.840 ", 14399840])
def test_a_cui_is_read_with_or_without_the_ro_prefix(given):
    assert normalize_cui(given) == 14399840


@pytest.mark.parametrize(("given", "reason"), [
    ("RO14399841", "wrong check digit"), ("1234567", "wrong check digit"), ("RO", "not a CUI"),
    ("DE14399840", "not a CUI"), ("12345678901", "not a CUI"), ("", "not a CUI"), ("0000", "wrong check digit"),
])
def test_an_invalid_cui_is_refused(given, reason):
    with pytest.raises(ValidationError) as caught:
        normalize_cui(given)
    assert caught.value.details == {"cui": [reason]}


def test_the_check_digit_uses_the_key_753217532():
    assert check_digit("1439984") == 0 and is_valid("18547290") and is_valid("6859662") and not is_valid("16172080")


@responses.activate
def test_an_invalid_cui_in_a_lookup_refuses_all_of_it_without_a_call(integration):
    with pytest.raises(ValidationError) as caught:
        vat_lookup(integration=integration, cuis=["RO14399840", "RO14399841"])
    assert caught.value.details == {"cuis": {"1": ["'RO14399841' is not a valid CUI: its check digit does not "
                                                  "match."]}}
    assert len(responses.calls) == 0


# ---------------------------------------------------------------------- lookups
@responses.activate
def test_vat__found_answers_each_cui_and_a_second_lookup_within_a_day_makes_no_call(integration):
    replay("vat__found")

    first = vat_lookup(integration=integration, cuis=["RO14399840", "18547290", "6859662"])
    again = vat_lookup(integration=integration, cuis=["14399840", "RO 18547290"])

    assert len(responses.calls) == 1
    [body] = [sent(c) for c in responses.calls]
    assert [item["cui"] for item in body] == [6859662, 14399840, 18547290]
    assert {item["data"] for item in body} == {body[0]["data"]} and len(body[0]["data"]) == 10
    assert first["RO14399840"] == {
        "cui": "RO14399840", "found": True, "name": "EXEMPLU COMERT SRL",
        "address": "MUN. CLUJ-NAPOCA, STR. MEMORANDUMULUI, NR.28", "vat_payer": True, "vat_payer_since": "2001-04-01",
        "registration_status": "INREGISTRAT din data 01.03.2001", "inactive": False,
        "trade_register_number": "J12/1234/2001", "e_invoice": True, "checked_on": "2026-05-04"}
    assert (first["18547290"]["vat_payer"], first["18547290"]["inactive"]) == (False, True)
    assert first["6859662"]["found"] is False and first["6859662"]["cui"] == "RO6859662"
    assert again["14399840"] == first["RO14399840"] and again["RO 18547290"] == first["18547290"]


@responses.activate
def test_vat__not_found_is_an_answer_too(integration):
    replay("vat__not_found")
    assert vat_lookup(integration=integration, cuis=["361757"])["361757"]["found"] is False


@responses.activate
def test_lookups_are_batched_by_the_per_request_limit_and_throttled_to_one_a_second(integration, sleeps):
    cuis = valid_cuis(MAX_PER_REQUEST + 50)
    responses.add("POST", URL, json={"cod": 200, "message": "SUCCESS", "found": [], "notFound": []})

    results = vat_lookup(integration=integration, cuis=cuis)

    assert [len(sent(c)) for c in responses.calls] == [100, 50]
    assert len(results) == 150 and not any(r["found"] for r in results.values())
    assert len(sleeps) == 1 and 0.9 < sleeps[0] <= 1.0  # the second request waited for the 1/s bucket


@responses.activate
def test_vat__refused_in_a_200_answer_is_a_provider_error(integration):
    replay("vat__refused")
    with pytest.raises(ProviderError) as caught:
        vat_lookup(integration=integration, cuis=["RO14399840"])
    assert caught.value.message == "ANAF refused the lookup: Lista de CUI-uri depaseste limita de 100"
    assert cache.get("anaf:vat:14399840") is None


# ---------------------------------------------------------------------- provider errors
@responses.activate
def test_errors__rate_limited_is_honoured(integration, sleeps):
    replay("errors__rate_limited")
    replay("vat__found")
    assert vat_lookup(integration=integration, cuis=["RO14399840"])["RO14399840"]["found"]
    assert sleeps == [1.0]


@responses.activate
def test_errors__server_error_is_retried_then_transient(integration, sleeps):
    replay("errors__server_error")
    with pytest.raises(ProviderUnavailable) as caught:
        vat_lookup(integration=integration, cuis=["RO14399840"])
    assert caught.value.transient and len(responses.calls) == 2


@pytest.mark.parametrize("name", ["errors__unauthorized", "errors__not_found", "errors__unprocessable"])
@responses.activate
def test_errors__4xx_are_permanent(integration, name):
    replay(name)
    with pytest.raises(ProviderError) as caught:
        vat_lookup(integration=integration, cuis=["RO14399840"])
    assert caught.value.status_code == fixture(name)["status"] and not caught.value.transient
    assert len(responses.calls) == 1


# ---------------------------------------------------------------------- API, admin, connection test
@responses.activate
def test_post_tax_validate_answers_one_cui(integration, api_client_for):
    replay("vat__found")
    response = api_client_for(integration.organization, "operator").post("/api/tax/validate/",
                                                                          {"cui": "RO14399840"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "EXEMPLU COMERT SRL" and response.json()["vat_payer"] is True


@responses.activate
def test_post_tax_validate_refuses_a_bad_cui_without_a_call(integration, api_client_for):
    response = api_client_for(integration.organization, "operator").post("/api/tax/validate/",
                                                                          {"cui": "RO14399841"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"] == {"cui": ["wrong check digit"]}
    assert len(responses.calls) == 0


def test_post_tax_validate_without_an_anaf_integration_is_a_404(admin_api):
    response = admin_api.post("/api/tax/validate/", {"cui": "RO14399840"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"


@responses.activate
def test_the_organization_admin_action_checks_and_keeps_the_registration(integration, admin_client):
    replay("vat__found")
    response = admin_client.post("/admin/accounts/organization/", {
        "action": "check_vat_registration", "_selected_action": [integration.organization.pk]}, follow=True)

    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert texts == [f"{integration.organization}: RO14399840 EXEMPLU COMERT SRL — VAT payer (checked 2026-05-04)."]
    integration.refresh_from_db()
    assert integration.metadata["vat_registration"]["name"] == "EXEMPLU COMERT SRL"


def test_an_anaf_integration_made_through_the_api_fails_its_test_readably_without_network(admin_api, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    response = admin_api.post("/api/integrations/", {"name": "ANAF", "code": "anaf-ro", "provider": "anaf"},
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "tax"

    result = integration_test_connection(integration=Integration.objects.get(code="anaf-ro"))

    assert not result.ok and result.detail.startswith("Could not reach ANAF: ")
    assert "Traceback" not in result.detail
