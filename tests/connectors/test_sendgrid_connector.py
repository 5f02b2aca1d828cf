"""The SendGrid connector: mail/send against a recorded answer, and its Signed Event Webhook verified with a key
pair made here (ECDSA P-256; SendGrid keeps the private half) through the real receive endpoint."""

from __future__ import annotations

import base64
import json
import time

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from config.errors import ValidationError
from connectors.capabilities import NoticeMessage
from connectors.sendgrid.models import EmailSuppression
from connectors.sendgrid.webhooks import verify
from connectors.sessions import close_sessions
from tests.connectors.support import Recorded, sent_json
from tests.factories import IntegrationFactory
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

recorded = Recorded("sendgrid")
MAIL_SEND = "https://api.sendgrid.com/v3/mail/send"


def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


PRIVATE, PUBLIC = key_pair()


def sign(body: bytes, *, private=PRIVATE, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="sendgrid", type="email", code="sendgrid", api_key="SG.test-key-0001.abcdef",
                             webhook_secret=PUBLIC, config={"from_email": "Switchyard <alerts@acme.example>"})
    close_sessions()


def bounce_batch() -> bytes:
    return json.dumps(recorded("events__bounce")["body"]).encode()


def receive(client, integration, body: bytes, headers: dict[str, str]):
    return client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body, content_type="application/json",
                       headers=headers)


# ---------------------------------------------------------------- the signature


def test_a_signature_by_the_key_verifies_and_anything_else_does_not():
    body = bounce_batch()
    headers = sign(body)
    assert verify(headers, body, [PUBLIC])
    assert not verify(headers, body + b" ", [PUBLIC])  # body altered
    assert not verify({**headers, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()) + 1)}, body,
                      [PUBLIC])  # timestamp altered
    other, _ = key_pair()
    assert not verify(sign(body, private=other), body, [PUBLIC])  # forged: signed with another key
    assert not verify(sign(body, at=int(time.time()) - 301), body, [PUBLIC], tolerance=300)  # replayed
    assert not verify(headers, body, ["not-base64-der"]) and not verify({}, body, [PUBLIC])


def test_a_signed_batch_is_stored_and_its_bounce_recorded(client, integration):
    body = bounce_batch()
    answer = receive(client, integration, body, sign(body))
    assert answer.status_code in (200, 202), answer.json()
    assert webhook_process(webhook_id=answer.json()["id"]) == "completed"
    webhook = IncomingWebhook.objects.get()
    assert webhook.signature_verified and webhook.external_id.startswith("sha256:")
    suppression = EmailSuppression.objects.get()
    assert (suppression.email, suppression.event, suppression.reason) == ("gone@acme.example", "bounce",
                                                                          "500 unknown recipient")
    assert suppression.sg_event_id == "6g4ZI7SA-xmRDv57GoPIPw"
    assert suppression.organization_id == integration.organization_id


def test_a_forged_batch_is_refused_and_nothing_is_stored(client, integration):
    body = bounce_batch()
    other, _ = key_pair()
    answer = receive(client, integration, body, sign(body, private=other))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert not IncomingWebhook.objects.exists() and not EmailSuppression.objects.exists()


# ---------------------------------------------------------------- mail/send


@responses.activate
def test_mail_send__accepted_one_personalization_per_address_and_bounced_ones_left_out(integration, connector):
    EmailSuppression.objects.create(organization=integration.organization, integration=integration,
                                    email="gone@acme.example", event="bounce")
    recorded.replay("POST", MAIL_SEND, "mail_send__accepted")
    message = NoticeMessage(title="Sync orders failed for Shop RO (shop-ro)", text="PROVIDER_ERROR: 503",
                            facts=(("Integration", "Shop RO (shop-ro)"),))
    assert connector.send_notice(message, target="ops@acme.example, Gone@Acme.example,cto@acme.example") == \
        "HmGdP3oOQnuCLfEM6L6ZRQ"
    body = sent_json(responses.calls[0])
    assert body["personalizations"] == [{"to": [{"email": "ops@acme.example"}]},
                                        {"to": [{"email": "cto@acme.example"}]}]
    assert body["from"] == {"email": "alerts@acme.example", "name": "Switchyard"}
    assert body["subject"] == "[Switchyard] Sync orders failed for Shop RO (shop-ro)"
    assert body["content"][0] == {"type": "text/plain", "value": "PROVIDER_ERROR: 503\nIntegration: Shop RO (shop-ro)"}
    assert body["content"][1]["type"] == "text/html" and "<h2>Sync orders failed" in body["content"][1]["value"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer SG.test-key-0001.abcdef"


def test_every_address_bounced_fails_without_a_call(integration, connector):
    EmailSuppression.objects.create(organization=integration.organization, integration=integration,
                                    email="gone@acme.example", event="bounce")
    with pytest.raises(ValidationError, match="suppression list"):
        connector.send_notice(NoticeMessage(title="t"), target="gone@acme.example")
