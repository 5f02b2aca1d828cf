"""The chat-command port: a chat provider's slash command reaches health and syncs without importing them.

A chat connector (its `urls_module` view) verifies the request, finds its integration and who typed the
command (an email address the provider vouches for), and calls `chat_command(...)`. The notifications app,
which sits above syncjobs and may start syncs, installs the answerer when the app registry is ready
(`NotificationsConfig.ready`), the same pattern as the event recorder in integrations/events.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from integrations.models import Integration


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    ok: bool = True  # False: refused or failed (a chat shows it to the caller only)


Answerer = Callable[..., ChatAnswer]
_answerer: list[Answerer] = []


def chat_commands_install(answerer: Answerer) -> None:
    _answerer[:] = [answerer]


def chat_command(*, integration: Integration, user_email: str, text: str) -> ChatAnswer:
    """Answer `text` (`health`, `sync <code>`, `help`) typed by the member with `user_email` in the chat connected
    as `integration` (whose organization is the tenant)."""
    if not _answerer:
        raise ImproperlyConfigured("No chat command answerer: the notifications app is not installed or not ready.")
    return _answerer[0](integration=integration, user_email=user_email, text=text)
