"""The signing primitives against the Standard Webhooks spec example and library, and the generic HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from connectors import signing


def _b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- Standard Webhooks

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_standard_webhooks_spec_example_verifies():
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    assert signing.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330)
    assert not signing.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330 + 301)
    assert not signing.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330 - 301)
    assert not signing.verify_standard_webhooks({**headers, "webhook-id": "msg_other"}, body, [SW_SECRET],
                                                  now=1614265330)


def test_standard_webhooks_headers_from_the_library_verify():
    body = json.dumps({"type": "order.created", "data": {"id": 7}}).encode()
    signer = standardwebhooks.Webhook(SW_SECRET)
    now = datetime.now(tz=UTC)
    signature = signer.sign("msg_abc", now, body.decode())
    headers = {"webhook-id": "msg_abc", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": f"v1,{'A' * 44} {signature}"}
    assert signer.verify(body, headers)  # the library agrees with itself…
    assert signing.verify_standard_webhooks(headers, body, [SW_SECRET])  # …and with us
    assert not signing.verify_standard_webhooks(headers, body, ["whsec_" + base64.b64encode(b"x" * 24).decode()])
    assert not signing.verify_standard_webhooks(headers, body, ["whsec_***not-base64***"])
    assert not signing.verify_standard_webhooks({**headers, "webhook-signature": signature.replace("v1,", "v2,")},
                                                  body, [SW_SECRET])


def test_our_outgoing_signing_is_accepted_by_our_verifier():
    """Outgoing webhooks are signed per Standard Webhooks: one Switchyard can receive another's events."""
    from webhooks.outbound import signing as outbound

    secret, body, now = outbound.secret_generate(), b'{"type":"ping"}', int(time.time())
    headers = outbound.signed_headers([secret], msg_id="msg_1", timestamp=now, body=body)
    assert signing.verify_standard_webhooks(headers, body, [secret])
    assert not signing.verify_standard_webhooks(headers, body, [outbound.secret_generate()])


# ---------------------------------------------------------------- generic HMAC-SHA256


def test_generic_hmac_in_a_configurable_header_and_encoding():
    body = b'{"event":"x"}'
    hex_headers = {"X-Signature": _hex("s3cret", body)}
    assert signing.verify_hmac_sha256(hex_headers, body, ["s3cret"])
    assert signing.verify_hmac_sha256({"X-Signature": _hex("s3cret", body).upper()}, body, ["s3cret"])
    assert not signing.verify_hmac_sha256(hex_headers, body, ["s3cret"], encoding="base64")
    b64 = {"X-Custom-Sig": f"sha256={_b64('s3cret', body)}"}
    assert signing.verify_hmac_sha256(b64, body, ["s3cret"], header_name="X-Custom-Sig", encoding="base64",
                                        prefix="sha256=")
    assert not signing.verify_hmac_sha256(b64, body, ["s3cret"], header_name="X-Custom-Sig", encoding="base64")
    with pytest.raises(ValueError, match="encoding"):
        signing.verify_hmac_sha256(hex_headers, body, ["s3cret"], encoding="rot13")
