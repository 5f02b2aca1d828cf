"""Connector for Anthropic's Claude: structured analyses (analysis/) through the Messages API, with tool use.

Credentials: an API key (`sk-ant-…`) in `api_key` (encrypted like every secret). The model is the integration's
`config["model"]`, one of the ids `GET /v1/models` lists for the key (the connection test lists them and refuses
a model that is not there), else ANTHROPIC_MODEL. Every call goes through the official SDK with its HTTP wired to
connectors/http.py (transport.py): rate limit, retries on 429 and 529 with backoff, the call log.

The answer is asked as the input of one tool (`tool_choice` forces it) whose `input_schema` is the caller's JSON
schema: data to validate, never prose to parse. Usage (input/output tokens) comes back with a cost estimate at
the model's list price.
"""

from __future__ import annotations

import time
from decimal import Decimal

import anthropic
import httpx2

from config.errors import ApplicationError
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy
from connectors.capabilities import AnalysisAnswer, AnalysisQuestion, Analyst
from connectors.errors import ProviderUnavailable, connection_failure
from connectors.http import elapsed_ms

from .transport import PolicyTransport

DEFAULT_MODEL = "claude-sonnet-4-5"
OVERLOADED = 529
# USD per million tokens (input, output), first matching prefix wins; list prices as published by Anthropic.
PRICES: tuple[tuple[str, Decimal, Decimal], ...] = (
    ("claude-opus-4-0", Decimal(15), Decimal(75)), ("claude-opus-4-1", Decimal(15), Decimal(75)),
    ("claude-3-opus", Decimal(15), Decimal(75)), ("claude-opus", Decimal(5), Decimal(25)),
    ("claude-sonnet", Decimal(3), Decimal(15)), ("claude-3-7-sonnet", Decimal(3), Decimal(15)),
    ("claude-3-5-haiku", Decimal("0.80"), Decimal(4)), ("claude-haiku", Decimal(1), Decimal(5)),
)
MESSAGES_TIMEOUT = (10.0, 120.0)  # connect, read: a long answer takes a while
LIST_TIMEOUT = (10.0, 30.0)


def cost_estimate(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    for prefix, per_input, per_output in PRICES:
        if model.startswith(prefix):
            return ((per_input * input_tokens + per_output * output_tokens) / 1_000_000).quantize(Decimal("0.000001"))
    return Decimal(0)


class AnthropicConnector(Analyst, Connector):
    key = "anthropic"
    display_name = "Anthropic (Claude)"
    integration_type = "ai"
    auth_kind = AuthKind.API_KEY
    base_url = "https://api.anthropic.com"
    rate_limit = RateLimitPolicy(requests=50, per_seconds=60.0)
    docs_url = "https://docs.anthropic.com/en/api/messages"
    provider_settings = {"MODEL": DEFAULT_MODEL}

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.integration.api_key} if self.integration.api_key else {}

    def throttled_seconds(self, response) -> float | None:
        """529 overloaded_error: Anthropic did nothing with the request, so it is waited on like a 429."""
        if response.status_code == OVERLOADED:
            return self.retry_after_seconds(response) or 0.0
        return None

    # ------------------------------------------------------------------ the SDK, wired to the policy
    def sdk(self, *, action: str, timeout: tuple[float, float]) -> anthropic.Anthropic:
        transport = PolicyTransport(self.http, action=action, timeout=timeout)
        return anthropic.Anthropic(api_key=self.integration.api_key or "missing", base_url=self.resolved_base_url(),
                                   max_retries=0, http_client=httpx2.Client(transport=transport))

    @staticmethod
    def sdk_errors(exc: anthropic.AnthropicError) -> Exception:
        """The error connectors/http.py raised inside the SDK (RateLimited, ProviderError…), else a transient one."""
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        return cause or ProviderUnavailable(f"Anthropic call failed: {exc}", transient=True)

    def model_name(self) -> str:
        configured = (self.integration.config or {}).get("model") if isinstance(self.integration.config, dict) else ""
        return str(configured or self.setting("MODEL") or DEFAULT_MODEL)

    def available_models(self) -> list[dict[str, str]]:
        try:
            with self.sdk(action="list_models", timeout=LIST_TIMEOUT) as client:
                return [{"id": m.id, "display_name": m.display_name} for m in client.models.list(limit=100)]
        except anthropic.AnthropicError as exc:
            raise self.sdk_errors(exc) from None

    def test_connection(self) -> ConnectionResult:
        """`GET /v1/models` (free): the key works, and the chosen model is one it lists."""
        started = time.monotonic()
        try:
            models = [m["id"] for m in self.available_models()]
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Anthropic', exc)}: {exc.message}")
        chosen = self.model_name()
        if not any(m == chosen or m.startswith(f"{chosen}-") for m in models):
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"The model {chosen} is not one this key lists; set config.model to one "
                                           f"of: {', '.join(models)}.")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Anthropic key works; model {chosen} is available ({len(models)} listed).")

    def analyze(self, question: AnalysisQuestion) -> AnalysisAnswer:
        model = self.model_name()
        try:
            with self.sdk(action="messages_create", timeout=MESSAGES_TIMEOUT) as client:
                message = client.messages.create(
                    model=model, max_tokens=question.max_tokens, system=question.system,
                    messages=[{"role": "user", "content": question.prompt}],
                    tools=[{"name": question.tool_name, "description": question.tool_description,
                            "input_schema": question.schema}],
                    tool_choice={"type": "tool", "name": question.tool_name})
        except anthropic.AnthropicError as exc:
            raise self.sdk_errors(exc) from None
        tool_input = next((block.input for block in message.content
                           if block.type == "tool_use" and block.name == question.tool_name), None)
        used_in, used_out = message.usage.input_tokens or 0, message.usage.output_tokens or 0
        return AnalysisAnswer(tool_input=tool_input, model=message.model or model, input_tokens=used_in,
                              output_tokens=used_out, cost_estimate=cost_estimate(message.model or model, used_in,
                                                                                  used_out),
                              stop_reason=message.stop_reason or "")
