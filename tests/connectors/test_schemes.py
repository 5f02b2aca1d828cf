"""The schemes several providers share (connectors/schemes.py): Meta, Slack (its documented example), generic HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from connectors import schemes
from connectors.schemes import SHARED


def _b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- Meta


def test_meta_sha256_header():
    body = b'{"object":"page","entry":[{"id":"1","time":1}]}'
    headers = {"X-Hub-Signature-256": f"sha256={_hex('app-secret', body)}"}
    assert schemes.verify_meta(headers, body, ["app-secret"])
    assert schemes.verify_meta({"X-Hub-Signature-256": headers["X-Hub-Signature-256"].upper()
                                  .replace("SHA256=", "sha256=")}, body, ["app-secret"])
    assert not schemes.verify_meta({"X-Hub-Signature-256": _hex("app-secret", body)}, body, ["app-secret"])
    legacy = hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    assert not schemes.verify_meta({"X-Hub-Signature": f"sha1={legacy}"}, body, ["app-secret"])


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
    assert schemes.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP + 10)


def test_slack_refuses_replays_either_way_and_tampering():
    assert not schemes.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP + 301)
    assert not schemes.verify_slack(_slack_headers(), SLACK_BODY, [SLACK_SECRET], now=SLACK_TIMESTAMP - 301)
    assert not schemes.verify_slack(_slack_headers(timestamp=SLACK_TIMESTAMP + 1), SLACK_BODY, [SLACK_SECRET],
                                      now=SLACK_TIMESTAMP)
    assert not schemes.verify_slack(_slack_headers(), SLACK_BODY + b"&x=1", [SLACK_SECRET], now=SLACK_TIMESTAMP)
    assert not schemes.verify_slack(_slack_headers(signature=SLACK_SIGNATURE.replace("v0=", "v1=")), SLACK_BODY,
                                      [SLACK_SECRET], now=SLACK_TIMESTAMP)


def test_schemes_apply_the_integration_options_and_the_tolerance():
    body = b'{"type":"thing.happened"}'
    generic = SHARED["hmac-sha256"]
    options = {"header": "X-Hook-Sig", "encoding": "base64", "prefix": "v1="}
    headers = {"X-Hook-Sig": f"v1={_b64('k' * 16, body)}"}
    assert generic.check(headers, body, ["k" * 16], options, tolerance=300)
    assert not generic.check(headers, body, ["k" * 16], {}, tolerance=300)
    assert generic.signature(headers, options) == headers["X-Hook-Sig"]
    assert SHARED["hmac-sha256-base64"].check({"X-Signature": _b64("k", body)}, body, ["k"], {}, tolerance=300)
    slack = SHARED["slack"]
    fresh = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    assert not slack.check(fresh, body, [SLACK_SECRET], {}, tolerance=300)
