"""Click's request signature: an MD5 hex of the fields and the service's secret key, in a fixed order.

`sign_string = md5(click_trans_id + service_id + SECRET_KEY + merchant_trans_id
[+ merchant_prepare_id on complete] + amount + action + sign_time)`, over the
values exactly as posted (the amount as Click wrote it, e.g. "1000.00"). MD5 is
Click's choice, not ours; the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def sign_string(fields: Mapping[str, str], secret_key: str, *, complete: bool) -> str:
    parts = [fields.get("click_trans_id", ""), fields.get("service_id", ""), secret_key,
             fields.get("merchant_trans_id", "")]
    if complete:
        parts.append(fields.get("merchant_prepare_id", ""))
    parts += [fields.get("amount", ""), fields.get("action", ""), fields.get("sign_time", "")]
    return hashlib.md5("".join(parts).encode()).hexdigest()  # noqa: S324 - Click's protocol


def verify(fields: Mapping[str, str], secret_key: str, *, complete: bool) -> bool:
    given = (fields.get("sign_string") or "").strip().lower()
    if not secret_key or not given:
        return False
    return hmac.compare_digest(given.encode(), sign_string(fields, secret_key, complete=complete).encode())
