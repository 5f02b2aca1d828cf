"""A fake social platform: accounts and posts pulled from lists, a publish that can time out after it posted."""

from __future__ import annotations

from typing import Any

from connectors.base import AuthKind, Connector, Page
from connectors.capabilities import PostLimits, PublishResult, SocialChannel, SocialPublisher
from connectors.errors import ProviderUnavailable


class FakeSocialConnector(SocialChannel, SocialPublisher, Connector):
    key = "fake-social"
    display_name = "Fake Social"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    post_limits = PostLimits(caption_max=20, media_types={"post": ("image/jpeg",), "video": ("video/mp4",)},
                             media_count={"post": (0, 2), "video": (1, 1)})

    accounts: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    platform: dict[str, Any] = {}  # what the platform holds: {"created": [request ids], "timeout_once": bool}

    def iter_social_accounts(self, *, since=None, cursor=None):
        yield Page(list(self.accounts))

    def normalize_social_account(self, record):
        return {"external_id": record["id"], "handle": record.get("handle"), "name": record.get("name"),
                "followers": record.get("followers")}

    def iter_posts(self, *, since=None, cursor=None):
        yield Page(list(self.posts))

    def normalize_post(self, record):
        return {"external_id": record["id"], "account_external_id": record.get("account"), "kind": "post",
                "caption": record.get("caption", ""), "metrics": record.get("metrics"),
                "comments": record.get("comments") or []}

    def publish_post(self, request, checkpoint):
        calls = self.platform.setdefault("calls", [])
        calls.append(dict(request.state or {}))
        if not (request.state or {}).get("remote_id"):
            remote_id = f"remote-{len(self.platform.setdefault('created', [])) + 1}"
            self.platform["created"].append(remote_id)
            checkpoint({"remote_id": remote_id})
            if self.platform.pop("timeout_once", False):
                raise ProviderUnavailable("Read timed out.")
        return PublishResult(done=True, external_id=(request.state or {}).get("remote_id")
                             or self.platform["created"][-1], permalink="https://fake.example/p/1")
