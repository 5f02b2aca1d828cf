"""The eBay tests' shared setup: recorded answers, and notifications signed as eBay signs them.

eBay signs with a key it publishes by id; the tests play eBay: `private_key` is a P-256 key pair made here,
`ebay_keys` serves its public half from the (mocked) Notification API in eBay's one-line PEM form, and
`signed` signs a raw body with the private half, as eBay does. `seller` is an integration that receives
them (its webhook_secret is eBay's verification token). Import the fixtures by module, not by name.
"""

from __future__ import annotations

import base64
import json

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache

from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

API = "https://api.ebay.com"
KID = "99a7b3bbc4e74d3d9c8f3b8c2a1d0e01"
VERIFICATION_TOKEN = "switchyard_ebay_verification_token_0123456789abcdef"
TOKEN_URL = f"{API}/identity/v1/oauth2/token"
IDENTITY_USER = "https://apiz.ebay.com/commerce/identity/v1/user/"


fixture = Recorded("ebay")
replay = fixture.replay


def raw(name: str) -> bytes:
    return json.dumps(fixture(name)["body"], separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def one_line_pem(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"-----BEGIN PUBLIC KEY-----{base64.b64encode(der).decode()}-----END PUBLIC KEY-----"


def signed(body: bytes, key: ec.EllipticCurvePrivateKey, *, digest: str = "SHA1") -> dict[str, str]:
    algorithm = hashes.SHA1() if digest == "SHA1" else hashes.SHA256()
    signature = base64.b64encode(key.sign(body, ec.ECDSA(algorithm))).decode()
    header = {"alg": "ecdsa", "kid": KID, "signature": signature, "digest": digest}
    return {"X-EBAY-SIGNATURE": base64.b64encode(json.dumps(header).encode()).decode(),
            "Content-Type": "application/json"}


@pytest.fixture
def seller(db, public_dns, sleeps):
    """An eBay integration receiving notifications (its webhook_secret: the verification token)."""
    cache.clear()
    yield IntegrationFactory(provider="ebay", status=IntegrationStatus.ACTIVE, code="ebay-us", route_key="ebay-us",
                             access_token="v^1.1#i^1#USER-0001", api_key="Acme-Switchy-PRD-1234",
                             api_secret="PRD-cert-secret-5678", webhook_secret=VERIFICATION_TOKEN)
    close_sessions()


@pytest.fixture
def ebay_keys(private_key):
    """The app token and public key endpoints, answering the test's key."""
    responses.add("POST", f"{API}/identity/v1/oauth2/token", json=fixture("oauth__application_token")["body"])
    key_answer = {**fixture("notification_public_key__get")["body"], "key": one_line_pem(private_key)}
    return responses.add("GET", f"{API}/commerce/notification/v1/public_key/{KID}", json=key_answer)
