"""Each signature scheme against the provider's documented example or its own SDK, and the ways to get it wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks
import stripe

from webhooks.inbound import verifiers
from webhooks.inbound.schemes import SCHEMES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sandbox"


def _b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- Shopify


def test_shopify_recorded_delivery_verifies_and_tampering_does_not():
    recorded = json.loads((FIXTURES / "webhooks__orders_updated.json").read_text())
    body, headers, secret = recorded["body"].encode(), recorded["headers"], recorded["secret"]
    assert verifiers.verify_shopify(headers, body, [secret])
    assert verifiers.verify_shopify({k.lower(): v for k, v in headers.items()}, body, [secret])
    assert not verifiers.verify_shopify(headers, body + b" ", [secret])
    assert not verifiers.verify_shopify(headers, json.dumps(json.loads(body)).encode(), [secret])  # re-serialized
    assert not verifiers.verify_shopify(headers, body, ["another-secret"])
    assert not verifiers.verify_shopify({}, body, [secret])
    assert not verifiers.verify_shopify(headers, body, [""])
    assert not verifiers.verify_shopify(headers, body, [])


def test_shopify_accepts_the_old_secret_during_a_rotation():
    body = b'{"id":1}'
    headers = {"X-Shopify-Hmac-Sha256": _b64("old-secret", body)}
    assert verifiers.verify_shopify(headers, body, ["new-secret", "old-secret"])
    assert not verifiers.verify_shopify(headers, body, ["new-secret"])


def test_shopify_rejects_a_hex_digest_and_garbage():
    body = b'{"id":1}'
    assert not verifiers.verify_shopify({"X-Shopify-Hmac-Sha256": _hex("s", body)}, body, ["s"])
    assert not verifiers.verify_shopify({"X-Shopify-Hmac-Sha256": "not base64 at all €"}, body, ["s"])


# ---------------------------------------------------------------- WooCommerce


def test_woocommerce_base64_hmac_of_the_body():
    body = b'{"id":727,"status":"processing","date_modified_gmt":"2026-05-01T09:30:00"}'
    headers = {"X-WC-Webhook-Signature": _b64("wc-secret", body), "X-WC-Webhook-Topic": "order.updated"}
    assert verifiers.verify_woocommerce(headers, body, ["wc-secret"])
    assert not verifiers.verify_woocommerce(headers, body.replace(b"727", b"728"), ["wc-secret"])
    assert not verifiers.verify_woocommerce({"X-Shopify-Hmac-Sha256": headers["X-WC-Webhook-Signature"]}, body,
                                            ["wc-secret"])


# ---------------------------------------------------------------- Stripe (headers from the stripe library)


STRIPE_SECRET = "whsec_test_7Ff1tGm0ZmM3xq"
STRIPE_BODY = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).encode()


def _stripe_header(timestamp: int, secret: str = STRIPE_SECRET) -> str:
    return stripe.WebhookSignature.generate_signature_header(STRIPE_BODY.decode(), secret, timestamp=timestamp)


def test_stripe_header_from_the_library_verifies():
    now = int(time.time())
    header = _stripe_header(now)
    stripe.WebhookSignature.verify_header(STRIPE_BODY, header, STRIPE_SECRET, tolerance=300)  # the SDK agrees
    assert verifiers.verify_stripe({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])
    assert not verifiers.verify_stripe({"Stripe-Signature": header}, STRIPE_BODY + b"\n", [STRIPE_SECRET])
    assert not verifiers.verify_stripe({"Stripe-Signature": header}, STRIPE_BODY, ["whsec_other"])


def test_stripe_several_v1_values_any_may_match_and_v0_is_ignored():
    now = int(time.time())
    good = _stripe_header(now).split("v1=")[1]
    header = f"t={now},v1={'0' * 64},v0={good},v1={good}"
    assert verifiers.verify_stripe({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])
    assert not verifiers.verify_stripe({"Stripe-Signature": f"t={now},v0={good}"}, STRIPE_BODY, [STRIPE_SECRET])


def test_stripe_tolerance_refuses_old_timestamps_only_like_the_sdk():
    now = 1_800_000_000
    headers = lambda ts: {"Stripe-Signature": _stripe_header(ts)}  # noqa: E731
    assert verifiers.verify_stripe(headers(now - 299), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert not verifiers.verify_stripe(headers(now - 301), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert verifiers.verify_stripe(headers(now + 3600), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert not verifiers.verify_stripe(headers(now - 100), STRIPE_BODY, [STRIPE_SECRET], now=now, tolerance=60)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=notanumber,v1=abc", "garbage", "t=1,v1="])
def test_stripe_malformed_headers_are_simply_not_verified(header):
    assert not verifiers.verify_stripe({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])


# ---------------------------------------------------------------- Meta


def test_meta_sha256_header():
    body = b'{"object":"page","entry":[{"id":"1","time":1}]}'
    headers = {"X-Hub-Signature-256": f"sha256={_hex('app-secret', body)}"}
    assert verifiers.verify_meta(headers, body, ["app-secret"])
    assert verifiers.verify_meta({"X-Hub-Signature-256": headers["X-Hub-Signature-256"].upper()
                                  .replace("SHA256=", "sha256=")}, body, ["app-secret"])
    assert not verifiers.verify_meta({"X-Hub-Signature-256": _hex("app-secret", body)}, body, ["app-secret"])
    legacy = hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    assert not verifiers.verify_meta({"X-Hub-Signature": f"sha1={legacy}"}, body, ["app-secret"])


# ---------------------------------------------------------------- Slack (the documented example)

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def _slack_headers(timestamp=SLACK_TIMESTAMP, signature=SLACK_SIGNATURE):
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def test_slack_documented_example_verifies():
    assert verifiers.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP + 10)


def test_slack_refuses_replays_either_way_and_tampering():
    assert not verifiers.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP + 301)
    assert not verifiers.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP - 301)
    assert not verifiers.verify_slack(_slack_headers(timestamp=SLACK_TIMESTAMP + 1), SLACK_BODY, [SLACK_SECRET],
                                      now=SLACK_TIMESTAMP)
    assert not verifiers.verify_slack(_slack_headers(), SLACK_BODY + b"&x=1", [SLACK_SECRET], now=SLACK_TIMESTAMP)
    assert not verifiers.verify_slack(_slack_headers(signature=SLACK_SIGNATURE.replace("v0=", "v1=")), SLACK_BODY,
                                      [SLACK_SECRET], now=SLACK_TIMESTAMP)


# ---------------------------------------------------------------- Standard Webhooks

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_standard_webhooks_spec_example_verifies():
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    assert verifiers.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330)
    assert not verifiers.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330 + 301)
    assert not verifiers.verify_standard_webhooks(headers, body, [SW_SECRET], now=1614265330 - 301)
    assert not verifiers.verify_standard_webhooks({**headers, "webhook-id": "msg_other"}, body, [SW_SECRET],
                                                  now=1614265330)


def test_standard_webhooks_headers_from_the_library_verify():
    body = json.dumps({"type": "order.created", "data": {"id": 7}}).encode()
    signer = standardwebhooks.Webhook(SW_SECRET)
    now = datetime.now(tz=UTC)
    signature = signer.sign("msg_abc", now, body.decode())
    headers = {"webhook-id": "msg_abc", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": f"v1,{'A' * 44} {signature}"}
    assert signer.verify(body, headers)  # the library agrees with itself…
    assert verifiers.verify_standard_webhooks(headers, body, [SW_SECRET])  # …and with us
    assert not verifiers.verify_standard_webhooks(headers, body, ["whsec_" + base64.b64encode(b"x" * 24).decode()])
    assert not verifiers.verify_standard_webhooks(headers, body, ["whsec_***not-base64***"])
    assert not verifiers.verify_standard_webhooks({**headers, "webhook-signature": signature.replace("v1,", "v2,")},
                                                  body, [SW_SECRET])


def test_our_outgoing_signing_is_accepted_by_our_verifier():
    """Outgoing webhooks are signed per Standard Webhooks: one Switchyard can receive another's events."""
    from webhooks.outbound import signing

    secret, body, now = signing.secret_generate(), b'{"type":"ping"}', int(time.time())
    headers = signing.signed_headers([secret], msg_id="msg_1", timestamp=now, body=body)
    assert verifiers.verify_standard_webhooks(headers, body, [secret])
    assert not verifiers.verify_standard_webhooks(headers, body, [signing.secret_generate()])


# ---------------------------------------------------------------- generic HMAC-SHA256


def test_generic_hmac_in_a_configurable_header_and_encoding():
    body = b'{"event":"x"}'
    hex_headers = {"X-Signature": _hex("s3cret", body)}
    assert verifiers.verify_hmac_sha256(hex_headers, body, ["s3cret"])
    assert verifiers.verify_hmac_sha256({"X-Signature": _hex("s3cret", body).upper()}, body, ["s3cret"])
    assert not verifiers.verify_hmac_sha256(hex_headers, body, ["s3cret"], encoding="base64")
    b64 = {"X-Custom-Sig": f"sha256={_b64('s3cret', body)}"}
    assert verifiers.verify_hmac_sha256(b64, body, ["s3cret"], header_name="X-Custom-Sig", encoding="base64",
                                        prefix="sha256=")
    assert not verifiers.verify_hmac_sha256(b64, body, ["s3cret"], header_name="X-Custom-Sig", encoding="base64")
    with pytest.raises(ValueError, match="encoding"):
        verifiers.verify_hmac_sha256(hex_headers, body, ["s3cret"], encoding="rot13")


def test_schemes_apply_the_integration_options_and_the_tolerance():
    body = b'{"type":"thing.happened"}'
    generic = SCHEMES["hmac-sha256"]
    options = {"header": "X-Hook-Sig", "encoding": "base64", "prefix": "v1="}
    headers = {"X-Hook-Sig": f"v1={_b64('k' * 16, body)}"}
    assert generic.check(headers, body, ["k" * 16], options, tolerance=300)
    assert not generic.check(headers, body, ["k" * 16], {}, tolerance=300)
    assert generic.signature(headers, options) == headers["X-Hook-Sig"]
    assert SCHEMES["hmac-sha256-base64"].check({"X-Signature": _b64("k", body)}, body, ["k"], {}, tolerance=300)
    slack = SCHEMES["slack"]
    fresh = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    assert not slack.check(fresh, body, [SLACK_SECRET], {}, tolerance=300)
