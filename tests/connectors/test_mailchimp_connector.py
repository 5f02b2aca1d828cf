"""The Mailchimp connector against recorded answers (tests/fixtures/mailchimp/), and the audience push of the
customers who consented (syncjobs/audiences.py): only they, each at the exact subscriber hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from commerce.models import Order
from connectors.errors import ProviderError
from connectors.sessions import close_sessions
from syncjobs.audiences import audience_push, audiences_refresh, consenting_customers
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("mailchimp")
API = "https://us6.api.mailchimp.com/3.0"
LIST = "a1b2c3d4e5"
ANA = f"{API}/lists/{LIST}/members/cdb9d6a1dddc375a09cc83e3001598dc"  # md5("ana@example.com")
ION = f"{API}/lists/{LIST}/members/80ffea57449ba0582f097ccf85ded4bc"  # md5("ion@example.com")


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"mailchimp": {"CLIENT_ID": "mc-client", "CLIENT_SECRET": "mc-secret"}}
    yield IntegrationFactory(provider="mailchimp", type="email", code="mailchimp",
                             access_token="5c6ccc561059aa386da9d112215bae55",
                             config={"dc": "us6", "list_id": LIST})
    close_sessions()


def order(integration, number: str, email: str, consent: bool | None, placed_day: int, name: str = "") -> Order:
    return Order.objects.create(organization=integration.organization, external_number=number, currency="RON",
                                customer_email=email, customer_name=name, customer_accepts_marketing=consent,
                                placed_at=datetime(2026, 5, placed_day, tzinfo=UTC))


# ---------------------------------------------------------------- connect


@responses.activate
def test_oauth_token__ok_then_metadata_names_the_data_centre(integration, connector):
    integration.config = {}
    recorded.replay("POST", "https://login.mailchimp.com/oauth2/token", "oauth_token__ok")
    recorded.replay("GET", "https://login.mailchimp.com/oauth2/metadata", "oauth_metadata__ok")
    tokens = connector.exchange_code("code-1", redirect_uri="https://switchyard.example/api/oauth/callback/mailchimp/")
    assert tokens.access_token == "5c6ccc561059aa386da9d112215bae55" and tokens.expires_at is None
    assert responses.calls[1].request.headers["Authorization"] == "OAuth 5c6ccc561059aa386da9d112215bae55"
    assert integration.config == {"dc": "us6", "account_name": "Acme Shop"}
    assert connector.resolved_base_url() == API


def test_an_api_key_names_its_data_centre(integration, connector):
    integration.config, integration.access_token, integration.api_key = {}, "", "0123456789abcdef-us21"
    assert connector.resolved_base_url() == "https://us21.api.mailchimp.com/3.0"
    assert connector.auth_headers()["Authorization"].startswith("Basic ")


# ---------------------------------------------------------------- audiences


@responses.activate
def test_lists__two_pages_are_read_by_offset(integration):
    recorded.replay("GET", f"{API}/lists", "lists__page1")
    recorded.replay("GET", f"{API}/lists", "lists__page2")
    lists = audiences_refresh(integration=integration)
    assert lists == [{"id": "a1b2c3d4e5", "name": "Acme customers", "member_count": 1204},
                     {"id": "f6g7h8i9j0", "name": "Wholesale", "member_count": 37}]
    assert [sent_query(c)["offset"] for c in responses.calls] == ["0", "1"]
    integration.refresh_from_db()
    assert integration.metadata["audiences"] == lists


@responses.activate
def test_lists_read_leave_a_key_saved_meanwhile(integration):
    from integrations.models import Integration

    Integration.objects.filter(pk=integration.pk).update(metadata={"refresh": {"at": "now"}})  # after it was read
    recorded.replay("GET", f"{API}/lists", "lists__page1")
    recorded.replay("GET", f"{API}/lists", "lists__page2")
    lists = audiences_refresh(integration=integration)
    assert Integration.objects.get(pk=integration.pk).metadata == {"refresh": {"at": "now"}, "audiences": lists}


def test_consent_is_the_latest_known_answer_per_address(integration):
    order(integration, "1", "Ana@Example.com", True, 1, "Ana Pop")
    order(integration, "2", "ion@example.com", True, 1, "Ion Ionescu")
    order(integration, "3", "ion@example.com", None, 3)  # unknown: does not withdraw
    order(integration, "4", "mara@example.com", True, 1)
    order(integration, "5", "mara@example.com", False, 2)  # withdrew
    order(integration, "6", "dan@example.com", None, 1)  # never said
    assert consenting_customers(organization_id=integration.organization_id) == [
        {"email": "ana@example.com", "first_name": "Ana", "last_name": "Pop"},
        {"email": "ion@example.com", "first_name": "Ion", "last_name": "Ionescu"},
    ]


@responses.activate
def test_members_put__only_consenting_customers_at_their_subscriber_hash(integration):
    order(integration, "1", "Ana@Example.com", True, 1, "Ana Pop")
    order(integration, "2", "ion@example.com", True, 1, "Ion")
    order(integration, "3", "mara@example.com", False, 1, "Mara")
    order(integration, "4", "dan@example.com", None, 1, "Dan")
    recorded.replay("PUT", ANA, "members_put__ok")
    recorded.replay("PUT", ION, "members_put__ok")
    assert audience_push(integration=integration) == {"upserted": 2, "failed": 0}
    assert [c.request.url for c in responses.calls] == [ANA, ION]
    assert sent_json(responses.calls[0]) == {"email_address": "ana@example.com", "status_if_new": "subscribed",
                                             "merge_fields": {"FNAME": "Ana", "LNAME": "Pop"}}
    assert sent_json(responses.calls[1]) == {"email_address": "ion@example.com", "status_if_new": "subscribed",
                                             "merge_fields": {"FNAME": "Ion"}}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer 5c6ccc561059aa386da9d112215bae55"

    # The next push sends only what changed since (nothing), and a full one sends them again.
    assert audience_push(integration=integration) == {"upserted": 0, "failed": 0}
    assert len(responses.calls) == 2
    assert audience_push(integration=integration, full=True)["upserted"] == 2


@responses.activate
def test_members_put__invalid_counts_as_failed_and_the_rest_go_on(integration):
    order(integration, "1", "ana@example.com", True, 1)
    order(integration, "2", "ion@example.com", True, 1)
    recorded.replay("PUT", ANA, "members_put__invalid")
    recorded.replay("PUT", ION, "members_put__ok")
    assert audience_push(integration=integration) == {"upserted": 1, "failed": 1}


@responses.activate
def test_a_missing_list_stops_the_push(integration):
    order(integration, "1", "ana@example.com", True, 1)
    responses.add("PUT", ANA, status=404, json={"title": "Resource Not Found", "status": 404})
    with pytest.raises(ProviderError):
        audience_push(integration=integration)
