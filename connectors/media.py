"""Fetching a post's media from the URL a client gave, for platforms that take the bytes from us (an upload).

The URL is the tenant's, so the one SSRF guard decides (connectors/outbound.py): checked before the request,
and every connection checked again on the address it actually reached (`GuardedHTTPAdapter`), redirects
included (each hop is a new request through the same adapter). The body is read up to `max_bytes`; a larger
file is refused rather than cut. Platforms that pull the media themselves (Instagram, TikTok's PULL_FROM_URL)
never come here: only the URL check at create time applies to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings

from config.errors import ValidationError

from .outbound import GuardedHTTPAdapter, check_outbound_url

MAX_REDIRECTS = 3
CHUNK = 1 << 20


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str


def fetch_media(url: str, *, max_bytes: int | None = None) -> Media:
    """The file at `url` (https only), at most `max_bytes` (SOCIAL_MEDIA_MAX_BYTES by default)."""
    limit = max_bytes if max_bytes is not None else settings.SOCIAL_MEDIA_MAX_BYTES
    check_outbound_url(url, field="media_urls", require_https=True)
    with requests.Session() as session:
        session.max_redirects = MAX_REDIRECTS
        session.mount("https://", GuardedHTTPAdapter())
        session.mount("http://", GuardedHTTPAdapter())
        with session.get(url, stream=True, timeout=(10, 60)) as response:
            check_outbound_url(response.url, field="media_urls", require_https=True)  # where redirects led
            if response.status_code != 200:
                raise ValidationError(f"The media URL answered {response.status_code}.",
                                      details={"media_urls": [f"{url} answered {response.status_code}"]})
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > limit:
                raise ValidationError("The media file is too large.", details={"media_urls": [f"over {limit} bytes"]})
            body = bytearray()
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > limit:
                    raise ValidationError("The media file is too large.",
                                          details={"media_urls": [f"over {limit} bytes"]})
            content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
            return Media(bytes(body), content_type)
