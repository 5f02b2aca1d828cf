"""Connector for Facebook Pages (the Pages API of the Graph API): the pages a user manages, their posts with
insights, publishing to a page, and the pages' feed webhooks on the shared Meta receiver.

Connect: Facebook Login (`pages_show_list, pages_manage_posts, pages_read_engagement, read_insights`) with the
Meta app of `FACEBOOK_CLIENT_ID`/`FACEBOOK_CLIENT_SECRET` (or the integration's `credentials`). The code buys a
short-lived user token (about 2 hours), at once exchanged (`grant_type=fb_exchange_token`) for a long-lived one
(about 60 days), kept as the refresh token too: Meta has no refresh token, and "refreshing" exchanges the current
long-lived token again while it is valid (the beat does it daily); a refused exchange is pending_auth.

Pages: `GET /me/accounts` lists the pages with a page access token each. Page tokens got from a long-lived user
token do not expire; they are secrets and live only in the integration's encrypted `credentials["page_tokens"]`
(page id → token), never in config, metadata or the call log (by name and by value, connectors/redaction.py).
The connect records the page ids in `config["page_ids"]` and claims them (`meta.page`) so the shared receiver
routes their webhooks here. A token the connect could not store yet (a new integration is created after the
connect names it) is read again from `/me/accounts` at the first page call.

Pulls: accounts are the pages (with `page_follows` from the page insights: `page_fans` is gone); posts are each
page's own posts (`/{page}/posts`, cursor paging; `/feed` would bring visitors' posts as the page's), each with
`post_media_view` (views) and `post_total_media_view_unique` (reach) — the `*_impressions*` metrics are gone
(Meta answers an invalid-metric error) and are never asked for — and its reaction, comment and share counts.

Publish: `POST /{page}/feed` (`message`, and `link`: the first URL in the text, for its preview) or, with an
image, `POST /{page}/photos` (`url`, `caption`) → `{page}_{post}`. The attempt is checkpointed before the call;
a retry after a lost answer looks for the post among the page's newest before posting again, and Meta's 506
(duplicate post) is the same case: the post already there is adopted as published, not failed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from connectors.appsecret_proof import appsecret_proof_params
from connectors.base import (
    AuthKind,
    ConnectionResult,
    Connector,
    OAuthMeta,
    Page,
    ProviderAccount,
    RateLimitPolicy,
    WebhookEvent,
)
from connectors.capabilities import (
    OAuthConnect,
    PostLimits,
    PublishRequest,
    PublishResult,
    SocialChannel,
    SocialPublisher,
    WebhookReceiver,
)
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.meta_graph import (
    DEFAULT_VERSION,
    DUPLICATE_POST,
    MetaLogin,
    graph_version,
    handshake,
    is_token_refused,
)
from connectors.meta_graph import error_code as graph_error_code
from connectors.meta_graph import throttled_seconds as graph_throttle
from connectors.schemes import META

from . import mapping, webhooks
from .client import PagesClient

if TYPE_CHECKING:
    import requests

GRAPH = "https://graph.facebook.com"
DIALOG = "https://www.facebook.com"
SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement", "read_insights")
PAGE_FIELDS = "id,name,username,access_token,tasks,category,followers_count,picture{url}"
POST_FIELDS = ("id,message,created_time,permalink_url,attachments{media_type,media,url},shares,"
               "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)")
PAGE_METRICS = "page_follows"
POST_METRICS = "post_media_view,post_total_media_view_unique"
PAGE_TOKENS = "page_tokens"
RECENT_POSTS = 10  # a retried publish looks for its post among the page's newest this many
IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")


class FacebookConnector(MetaLogin, OAuthConnect, WebhookReceiver, SocialChannel, SocialPublisher, Connector):
    key = "facebook"
    display_name = "Facebook Pages"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = GRAPH
    # What describe() lists; the calls use oauth_meta(), on the configured version.
    oauth = OAuthMeta(authorize_url=f"{DIALOG}/{DEFAULT_VERSION}/dialog/oauth",
                      token_url=f"{GRAPH}/{DEFAULT_VERSION}/oauth/access_token", default_scopes=SCOPES,
                      scope_separator=",")
    login_dialog = DIALOG
    login_scopes = SCOPES
    login_name = "Facebook"
    webhook_scheme = META
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.facebook.com/docs/pages-api/posts"
    routed_account_kinds = ("meta.page",)
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "WEBHOOK_VERIFY_TOKEN": ""}
    post_limits = PostLimits(caption_max=63206, media_types={"post": IMAGES}, media_count={"post": (0, 1)})

    def __init__(self, integration):
        super().__init__(integration)
        self.last_graph_code: int | None = None  # the Graph error code of the last refused answer (client.py)

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> PagesClient:
        return PagesClient(self, graph_version())

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def throttled_seconds(self, response: requests.Response) -> float | None:
        """Meta's throttles are waits (connectors/meta_graph.py); the error's code is noted for the caller."""
        self.last_graph_code = graph_error_code(response)
        return graph_throttle(response)

    def is_auth_expired(self, response: requests.Response) -> bool:
        return is_token_refused(response)

    def auth_params(self) -> dict[str, str]:  # Meta's appsecret_proof of the user token (a page's: client.py)
        return self.appsecret_proof(self.integration.access_token)

    def appsecret_proof(self, token: str) -> dict[str, str]:
        return appsecret_proof_params(token, self.oauth_client_credentials()[1])

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        """The user token was exchanged again and Facebook still refuses a page's token: the user lost the page
        (or the app's access to it), which only a reconnect by a page admin mends."""
        return (f"Facebook refused the page's access token in {action} although the user's token is valid: "
                "reconnect the integration as an admin of the page.")

    # ------------------------------------------------------------------ OAuth
    def account_display_name(self) -> str:
        """The user's name; the pages the token manages are recorded (ids in config, tokens encrypted)."""
        pages = self._discover_pages()
        self.integration.config = {**self.config, "page_ids": sorted(pages)}
        me = self.client.get("me", action="get_me", params={"fields": "id,name"})
        return str((me or {}).get("name") or "")

    def routed_accounts(self) -> list[ProviderAccount]:
        return [ProviderAccount("meta.page", str(i)) for i in self.config.get("page_ids") or [] if i]

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            me = self.client.get("me", action="test_connection", params={"fields": "id,name"})
        except Exception as exc:  # noqa: BLE001 - the test reports any failure, it never raises
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=connection_failure("Facebook", exc))
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected as {(me or {}).get('name') or 'a Facebook user'}.")

    # ------------------------------------------------------------------ page tokens
    def _page_tokens(self) -> dict[str, str]:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        tokens = credentials.get(PAGE_TOKENS)
        return dict(tokens) if isinstance(tokens, dict) else {}

    def _remember_pages(self, records: list[dict[str, Any]]) -> None:
        """Keep the pages' tokens in the encrypted credentials (saved at once when the integration exists)."""
        learned = {str(r["id"]): str(r["access_token"]) for r in records if r.get("id") and r.get("access_token")}
        tokens = {**self._page_tokens(), **learned}
        if not learned or tokens == self._page_tokens():
            return
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        self.integration.credentials = {**credentials, PAGE_TOKENS: tokens}
        if self.integration.pk is None:
            return
        with transaction.atomic():  # merged into the row as it is now: a concurrent edit of other keys is kept
            row = type(self.integration).objects.select_for_update().get(pk=self.integration.pk)
            row.credentials = {**(row.credentials if isinstance(row.credentials, dict) else {}), PAGE_TOKENS: tokens}
            row.save(update_fields=["credentials", "updated_at"])

    def _discover_pages(self) -> dict[str, dict[str, Any]]:
        pages: dict[str, dict[str, Any]] = {}
        after = None
        while True:
            data, after = self.client.page("me/accounts", action="list_pages", params={"fields": PAGE_FIELDS},
                                           after=after)
            self._remember_pages(data)
            pages.update({str(record["id"]): record for record in data if record.get("id")})
            if after is None:
                return pages

    def page_token(self, page_id: str) -> str:
        token = self._page_tokens().get(page_id)
        if not token:
            self._discover_pages()
            token = self._page_tokens().get(page_id)
        if not token:
            raise ProviderError(f"The connected Facebook user does not manage page {page_id} (any more): reconnect "
                                "as an admin of the page.", transient=False)
        return token

    def _pages_to_read(self) -> list[str]:
        """The pages whose posts a sync reads: those the user manages now. A page the connect recorded but the
        user no longer manages is left out (its posts stay as imported) rather than failing the others."""
        recorded = {str(i) for i in self.config.get("page_ids") or [] if i}
        if not self._page_tokens() or not recorded <= set(self._page_tokens()):
            self._discover_pages()
        return sorted(self._page_tokens())

    # ------------------------------------------------------------------ accounts and posts
    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        after = cursor
        while True:
            data, after = self.client.page("me/accounts", action="list_pages", params={"fields": PAGE_FIELDS},
                                           after=after)
            self._remember_pages(data)
            items = [{**{k: v for k, v in record.items() if k != "access_token"},
                      "_insights": self._insights(str(record["id"]), PAGE_METRICS, str(record.get("access_token")),
                                                  action="page_insights", period="day")}
                     for record in data if record.get("id")]
            yield Page(items, after)
            if after is None:
                return

    def _insights(self, node: str, metrics: str, token: str, *, action: str, period: str = "") -> dict[str, int]:
        """A node's insights by name. Nothing is swallowed: an invalid metric (code 100) is a bug to see, and a
        missing `read_insights` grant is a permission error that says how to mend it."""
        params = {"metric": metrics, **({"period": period} if period else {})}
        body = self.client.get(f"{node}/insights", action=action, token=token, params=params)
        return mapping.insight_values(body)

    def _with_insights(self, page: str, token: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**record, "_page": page,
                 "_insights": self._insights(str(record["id"]), POST_METRICS, token, action="post_insights")}
                for record in records if record.get("id")]

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Every page's posts; the cursor is `{"page", "after"}` (JSON), so a resumed job starts there."""
        state = json.loads(cursor) if cursor else {}
        pages = self._pages_to_read()
        if state.get("page") in pages:
            pages = pages[pages.index(state["page"]):]
        for position, page in enumerate(pages):
            token = self.page_token(page)
            after = state.get("after") if page == state.get("page") else None
            while True:
                data, after = self.client.page(f"{page}/posts", action="list_posts", token=token,
                                               params={"fields": POST_FIELDS}, after=after)
                items = self._with_insights(page, token, data)
                if after is not None:
                    yield Page(items, json.dumps({"page": page, "after": after}))
                    continue
                following = pages[position + 1] if position + 1 < len(pages) else None
                yield Page(items, json.dumps({"page": following}) if following else None)
                break

    def fetch_posts(self, external_ids: list[str]) -> list[dict[str, Any]]:
        """These posts read now (`GET /?ids=a,b`, per page with its token), for a webhook's re-pull."""
        by_page: dict[str, list[str]] = {}
        for post_id in sorted(set(external_ids)):
            by_page.setdefault(post_id.split("_", 1)[0], []).append(post_id)
        records: list[dict[str, Any]] = []
        for page, ids in by_page.items():
            token = self.page_token(page)
            body = self.client.get("", action="get_posts", token=token,
                                   params={"ids": ",".join(ids), "fields": POST_FIELDS})
            found = [record for record in (body or {}).values() if isinstance(record, dict)]
            records.extend(self._with_insights(page, token, found))
        return records

    normalize_social_account = staticmethod(mapping.normalize_page)
    normalize_post = staticmethod(mapping.normalize_post)

    # ------------------------------------------------------------------ webhooks
    def webhook_secrets(self) -> list[str]:
        """The Meta app's secret signs deliveries: the integration's webhook_secret, else the app's."""
        _, app_secret = self.oauth_client_credentials()
        return [s for s in (self.integration.webhook_secret, app_secret) if s]

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                          *, receive_url: str) -> tuple[int, Any] | None:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        tokens = [str(credentials.get("verify_token") or ""), self.setting("WEBHOOK_VERIFY_TOKEN")]
        return handshake(query, method, tokens)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body)

    # ------------------------------------------------------------------ publishing
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        """One post on the page; safe to call again (see the module docstring)."""
        state = dict(request.state or {})
        page = request.account_external_id
        token = self.page_token(page)
        if state.get("post_id"):
            return self._published(str(state["post_id"]), token)
        if state.get("sent"):  # an earlier attempt sent it and lost the answer, or failed before Facebook had it
            found = self._find_recent(page, request.caption, token)
            if found:
                checkpoint({"post_id": found})
                return self._published(found, token)
        checkpoint({"sent": True})
        try:
            post_id = self._send(page, request, token)
        except ProviderError as exc:
            if self.last_graph_code != DUPLICATE_POST:
                raise
            found = self._find_recent(page, request.caption, token)
            if not found:
                raise ProviderError(f"Facebook refused the post as a duplicate of a recent one it does not list: "
                                    f"{exc.provider_message or exc.message}", transient=False) from exc
            post_id = found
        checkpoint({"post_id": post_id})
        return self._published(post_id, token)

    def _send(self, page: str, request: PublishRequest, token: str) -> str:
        if request.media_urls:
            body = self.client.post(f"{page}/photos", action="publish_photo", token=token,
                                    data={"url": request.media_urls[0], "caption": request.caption})
            return str(body.get("post_id") or f"{page}_{body['id']}")
        form = {"message": request.caption}
        link = URL_IN_TEXT.search(request.caption)
        if link:
            form["link"] = link.group(0).rstrip(".,;:!?)")
        return str(self.client.post(f"{page}/feed", action="publish_post", token=token, data=form)["id"])

    def _find_recent(self, page: str, caption: str, token: str) -> str:
        """The id of the page's newest post with this text ("" if none): a post that already went out."""
        body = self.client.get(f"{page}/posts", action="find_recent_posts", token=token,
                               params={"fields": "id,message,created_time", "limit": RECENT_POSTS})
        for record in (body or {}).get("data") or []:
            if (record.get("message") or "") == caption:
                return str(record["id"])
        return ""

    def _published(self, post_id: str, token: str) -> PublishResult:
        body = self.client.get(post_id, action="get_post", token=token,
                               params={"fields": "id,permalink_url,created_time"})
        created = parse_datetime(body["created_time"]) if body.get("created_time") else None
        return PublishResult(done=True, external_id=post_id, permalink=str(body.get("permalink_url") or ""),
                             published_at=created)
