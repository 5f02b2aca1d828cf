"""The TikTok Shop tests' shared setup: an app's integration, and deliveries signed as TikTok signs them.

`Authorization` = hex HMAC-SHA256(app_secret, app_key + body), computed here independently of the connector.
Import the fixtures by module, not by name.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors.sessions import close_sessions
from connectors.tiktok_shop import client as tts_client
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

APP_KEY, APP_SECRET = "6abcdefghijk1", "tts-app-secret-0123456789abcdef"
API = "https://open-api.tiktokglobalshop.com"


fixture = Recorded("tiktok_shop")


def raw(name: str) -> bytes:
    return json.dumps(fixture(name)["body"], separators=(",", ":")).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """Computed here, independently: hex HMAC-SHA256 keyed with the app secret over app_key + body."""
    digest = hmac.new(secret.encode(), APP_KEY.encode() + body, hashlib.sha256).hexdigest()
    return {"Authorization": digest, "Content-Type": "application/json"}


@pytest.fixture
def shop(db, monkeypatch, public_dns, sleeps):
    """A TikTok Shop integration receiving webhooks, its clock fixed at the recorded answers' time."""
    monkeypatch.setattr(tts_client, "clock", lambda: 1709300000)
    yield IntegrationFactory(provider="tiktok_shop", status=IntegrationStatus.ACTIVE, api_key=APP_KEY,
                             api_secret=APP_SECRET, access_token="ROW_AccessToken_0000",
                             config={"shop_cipher": "ROW_Mfxq0QAAAADY9jhQTMr4JXq4U19IpM5-"})
    close_sessions()
