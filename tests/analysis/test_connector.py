"""The anthropic connector: the connection test lists the key's models (free) and checks the chosen one."""

from __future__ import annotations

import pytest
import responses

from connectors import registry
from tests.analysis.support import MODELS
from tests.connectors.support import Recorded

pytestmark = pytest.mark.django_db
claude = Recorded("anthropic")


@responses.activate
def test_connection_test_lists_models_and_accepts_the_default_alias(ai_integration):
    claude.replay("GET", MODELS, "models__list")
    result = registry.connector_for(ai_integration).test_connection()
    assert result.ok and result.detail == "Anthropic key works; model claude-sonnet-4-5 is available (3 listed)."
    assert responses.calls[0].request.headers["x-api-key"] == ai_integration.api_key


@responses.activate
def test_a_model_the_key_does_not_list_is_refused_naming_the_ones_it_does(ai_integration):
    ai_integration.config = {"model": "claude-3-opus-20240229"}
    ai_integration.save()
    claude.replay("GET", MODELS, "models__list")
    result = registry.connector_for(ai_integration).test_connection()
    assert not result.ok
    assert result.detail == ("The model claude-3-opus-20240229 is not one this key lists; set config.model to one of: "
                             "claude-opus-4-5-20251101, claude-sonnet-4-5-20250929, claude-haiku-4-5-20251001.")


@responses.activate
def test_a_refused_key_fails_the_connection_test(ai_integration):
    claude.replay("GET", MODELS, "messages__unauthorized")
    result = registry.connector_for(ai_integration).test_connection()
    assert not result.ok and "invalid x-api-key" in result.detail
