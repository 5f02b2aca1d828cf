"""The `appsecret_proof` a Graph API call carries beside a user's access token.

Meta's Graph APIs take `appsecret_proof` = the hex HMAC-SHA256 of the access token keyed with the app's secret,
and an app may require it on every call ("Require App Secret" in the app's settings): then a token stolen from a
log, a browser or a leaked backup is useless without the secret, which never leaves the server. Every connector
of a Meta app sends it from its `auth_params` (connectors/http.py adds those to each authenticated attempt, so a
refreshed token gets its own proof); without an app secret configured nothing is sent, as before.
"""

from __future__ import annotations

import hashlib
import hmac


def appsecret_proof_params(access_token: str, app_secret: str) -> dict[str, str]:
    """{"appsecret_proof": <hex HMAC-SHA256 of the token under the secret>}, or {} when either is missing."""
    if not access_token or not app_secret:
        return {}
    proof = hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
    return {"appsecret_proof": proof}
