"""Taking secrets (and customer personal data) out of whatever we are about to write down (IntegrationLog rows,
error messages, log lines).

Two nets, both always applied:

1. **By name.** Headers (`Authorization`, `Cookie`, `X-Shopify-Access-Token`,
   `X-Api-Key`, signatures…), query parameters and JSON/form keys whose name
   looks secret (`token`, `access_token`, `api_key`, `client_secret`,
   `password`, `signature`, `sig`, `code` in requests…) have their value
   replaced by `[REDACTED]`, case-insensitively and at any depth.
2. **By value.** Every secret the integration holds (api_key, api_secret,
   webhook_secret, access_token, refresh_token and each string inside
   credentials), in its plain, URL-encoded and JSON-escaped forms, is replaced
   wherever it appears: a token echoed in an error body, in a URL path, in a
   free-text field.

What can go wrong: a secret the integration does not hold yet (the new token in
a refresh answer) is caught only by name; a secret shorter than
`MIN_SECRET_LENGTH` is not searched for by value (it would shred the text and
is no secret anyway). Redact before truncating, never after: a cut secret no
longer matches.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from integrations.models import SECRET_FIELDS

if TYPE_CHECKING:
    from integrations.models import Integration

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
HEADER_MEMO_SIZE = 256  # header values a Redactor remembers redacting

# Names are compared lower-cased with everything but letters and digits removed.
_SECRET_NAMES = frozenset(
    {
        "key", "sig", "auth", "pwd", "pass", "pin", "otp", "cvv", "cvc", "hmac", "jwt", "assertion",
        "session", "sessionid", "codeverifier", "nonce", "ticket", "signstring",
    }
)  # fmt: skip
_SECRET_PARTS = (
    "token", "secret", "password", "passwd", "apikey", "accesskey", "privatekey", "signature",
    "credential", "authorization", "cookie",
)  # fmt: skip
# Only in what we send: an OAuth authorization `code`. In answers, `code` is an error or product code.
_REQUEST_ONLY_NAMES = frozenset({"code", "authcode", "authorizationcode"})
# Names that match the patterns above but hold nothing secret and help debugging.
_NOT_SECRET = frozenset(
    {"tokentype", "expiresin", "pagetoken", "nextpagetoken", "nexttoken", "continuationtoken", "synctoken"}
)

_HEADER_SECRET = re.compile(r"auth|token|secret|key|signature|cookie|password|session|hmac|credential", re.I)
# A credential after an auth scheme: long enough and with a digit, so "Basic auth failed" stays readable.
_BEARER = re.compile(r"\b(Bearer|Basic|Token|Api-Key)\s+(?=[A-Za-z0-9._~+/=:-]*\d)[A-Za-z0-9._~+/=:-]{8,}", re.I)
# `name=value` and `"name": "value"` in free text (bodies we could not parse, exception messages).
_PAIR = re.compile(
    r"""(?P<name>["']?[A-Za-z0-9_.-]+["']?)(?P<sep>\s*[:=]\s*)(?P<quote>["']?)(?P<value>[^"'&\s,;}]+)""",
)


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def is_secret_name(name: str, *, request: bool = True) -> bool:
    """Whether a query/body key names a secret. `request=False` for what a provider answered."""
    norm = _normalized(name)
    if not norm or norm in _NOT_SECRET:
        return False
    if norm in _SECRET_NAMES or any(part in norm for part in _SECRET_PARTS):
        return True
    return request and norm in _REQUEST_ONLY_NAMES


# Customer personal data (DESIGN: kept out of logs). Keys whose value is a person's detail, and keys whose whole
# object is an address or a person. Order numbers, totals, SKUs and statuses stay readable for debugging.
_PERSONAL_NAMES = frozenset(
    {
        "email", "emailaddress", "buyeremail", "customeremail", "billingemail", "phone", "phonenumber",
        "primaryphone", "mobile", "firstname", "lastname", "fullname", "customername", "customerfirstname",
        "customerlastname", "buyername", "address1", "address2", "addressline1", "addressline2", "fulladdress",
        "street", "zip", "postcode", "postalcode",
    }
)  # fmt: skip
_PERSONAL_OBJECTS = frozenset(
    {
        "customer", "buyer", "buyerinfo", "billing", "shipping", "billingaddress", "shippingaddress",
        "recipientaddress", "shipmentaddress", "invoiceaddress", "shipto", "contactaddress", "defaultaddress",
        "addresses",
    }
)  # fmt: skip
PERSONAL = "[PERSONAL]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def is_personal_name(name: str, value: Any = None) -> bool:
    """Whether a JSON key holds customer personal data (a scalar detail, or a whole address/person object)."""
    norm = _normalized(name)
    if norm in _PERSONAL_NAMES:
        return True
    return norm in _PERSONAL_OBJECTS and isinstance(value, (Mapping, list))


@functools.lru_cache(maxsize=1024)
def is_secret_header(name: str) -> bool:
    return bool(_HEADER_SECRET.search(name))


def integration_secrets(integration: Integration | None) -> list[str]:
    """The plain values of every secret field an integration holds (credentials flattened to its strings)."""
    if integration is None:
        return []

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append(str(value))

    for field in SECRET_FIELDS:
        walk(getattr(integration, field, None))
    return found


class Redactor:
    """Redacts by name and by value. Build one per call attempt: the secrets change when a token is refreshed."""

    def __init__(self, secrets: Iterable[str] = (), *, replacement: str = REDACTED):
        self._replacement = replacement
        variants: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            variants.update({secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]})
        ordered = sorted((v for v in variants if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._header_memo: dict[str, str] = {}

    @classmethod
    def for_integration(
        cls, integration: Integration | None, extra: Iterable[str] = (), *, replacement: str = REDACTED
    ) -> Redactor:
        return cls([*integration_secrets(integration), *extra], replacement=replacement)

    # ----------------------------------------------------------- by value
    def values(self, text: str) -> str:
        """Replace every known secret value in `text`."""
        return self._values.sub(self._replacement, text) if self._values and text else text

    def text(self, text: str) -> str:
        """Free text (an unparsed body, an exception message): known values, `Bearer …`, `name=value` pairs."""
        if not text:
            return text
        text = _EMAIL.sub(PERSONAL, self.values(text))
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)

        def pair(m: re.Match[str]) -> str:
            if not is_secret_name(m.group("name").strip("\"'")) or m.group("value") == REDACTED:
                return m.group(0)
            return f"{m.group('name')}{m.group('sep')}{m.group('quote')}{REDACTED}"

        return _PAIR.sub(pair, text)

    # ----------------------------------------------------------- by name (and value)
    def url(self, url: str) -> str:
        """Secret query parameters blanked, known values removed from the whole URL (a token in a path, too)."""
        parts = urlsplit(url)
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="[]")
            parts = parts._replace(query=query)
        if parts.password or parts.username:
            port = f":{parts.port}" if parts.port else ""
            parts = parts._replace(netloc=f"{REDACTED}@{parts.hostname or ''}{port}")
        return self.values(urlunsplit(parts))

    def headers(self, headers: Mapping[str, Any] | None) -> dict[str, str]:
        """Secret headers blanked, the rest redacted as text. A header value seen before answers from a small
        memo (one Redactor serves a webhook route's every request, whose Host, User-Agent and Content-Type
        repeat; the secrets it redacts are fixed when it is built)."""
        result: dict[str, str] = {}
        memo = self._header_memo
        for name, value in (headers or {}).items():
            name = str(name)
            if is_secret_header(name):
                result[name] = REDACTED
                continue
            value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            redacted = memo.get(value)
            if redacted is None:
                redacted = self.text(value)
                if len(memo) < HEADER_MEMO_SIZE:
                    memo[value] = redacted
            result[name] = redacted
        return result

    def data(self, value: Any, *, request: bool = True) -> Any:
        """A JSON-like structure (or form pairs) with secret keys blanked at any depth and known values removed."""
        if isinstance(value, Mapping):
            return {
                str(k): REDACTED
                if is_secret_name(str(k), request=request)
                else PERSONAL
                if is_personal_name(str(k), v)
                else self.data(v, request=request)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):  # form pairs
                return [
                    [str(k), REDACTED if is_secret_name(str(k), request=request) else self.data(v, request=request)]
                    for k, v in value
                ]
            return [self.data(item, request=request) for item in value]
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", errors="replace"))
        if isinstance(value, str):
            return self.text(value)
        return value


def truncated(value: Any, limit: int, *, size: int | None = None) -> Any:
    """`value` if its JSON form fits in `limit` characters, else a marker with the first `limit` characters.

    `size` is the size of the whole original, when `value` was already pruned.
    """
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= limit and size is None:
        return value
    return {"truncated": True, "size": size if size is not None else len(text), "head": text[:limit]}


def pruned(value: Any, budget: int) -> tuple[Any, bool]:
    """The leading part of a JSON-like structure whose serialized form is at least `budget` characters.

    Only the first `limit` characters of a body are kept, so redacting a whole
    700 KB page first is wasted work. Scalars are kept whole (a cut secret would
    no longer match when redacted); containers stop taking items once the budget
    is spent. Returns the part and whether anything was left out.
    """
    if isinstance(value, Mapping):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if budget <= 0:
                return kept, True
            part, cut = pruned(item, budget)
            kept[key] = part
            budget -= len(str(key)) + _approx_size(part) + 4
            if cut:
                return kept, True
        return kept, False
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            if budget <= 0:
                return items, True
            part, cut = pruned(item, budget)
            items.append(part)
            budget -= _approx_size(part) + 2
            if cut:
                return items, True
        return items, False
    return value, False


def _approx_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, (Mapping, list)):
        return len(json.dumps(value, default=str, ensure_ascii=False))
    return len(str(value))
