"""The question a model is asked: the ERP's figures as JSON and what to do with them. Nothing else goes in
(the figures carry no customer data: analysis/inputs.py)."""

from __future__ import annotations

import json

from django.conf import settings

from connectors.capabilities import AnalysisQuestion

from .inputs import Inputs
from .proposals import ACTIONS_BY_KIND, ANSWER_SCHEMA

TOOL_NAME = "record_suggestions"
SYSTEM = ("You are an e-commerce operations analyst for a merchant selling on several channels. You get figures "
          "the merchant's ERP computed; judge them, do not invent any. Propose only actions that the figures "
          "support, each on an id present in the figures, with exact values. Money is in the figures' currency "
          "with 2 decimals. Propose nothing rather than a weak guess. Answer only by calling the tool.")
ASKS = {
    "campaigns": "Which ad campaigns should get a different daily budget, or be paused? ROAS is conversion value "
                 "divided by spend; compare it with roas_low and roas_high and with its trend.",
    "pricing": "Which products' ERP price is out of line with what the channels actually sell them at? Propose a "
               "new price only where the gap is at least outlier_percent.",
    "stock": "Which products will run out before a reorder could arrive (lead_time_days)? Propose how many to "
             "reorder and the date they are needed by.",
}


def question(inputs: Inputs) -> AnalysisQuestion:
    actions = ", ".join(ACTIONS_BY_KIND[inputs.kind])
    prompt = (f"{ASKS[inputs.kind]}\nAllowed actions: {actions}.\n\nFigures (JSON):\n"
              f"{json.dumps(inputs.data, sort_keys=True, ensure_ascii=False)}")
    return AnalysisQuestion(system=SYSTEM, prompt=prompt, tool_name=TOOL_NAME,
                            tool_description="Record the suggested actions (an empty list when none is warranted).",
                            schema=ANSWER_SCHEMA, max_tokens=settings.AI_MAX_OUTPUT_TOKENS)


def estimated_tokens(q: AnalysisQuestion) -> int:
    """An upper estimate before asking: ~3 characters a token for the JSON-heavy prompt, plus the tool's schema,
    plus the most the answer may use."""
    text = len(q.system) + len(q.prompt) + len(json.dumps(q.schema))
    return text // 3 + 1 + q.max_tokens
