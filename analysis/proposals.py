"""A proposal: one suggested action, as the rules make it and as a model's answer is checked into.

`validate_answer` is the gate between a model's JSON and the database: every proposal must name a campaign or
product that was in the inputs, an action that fits it, and exact, sane values; one bad proposal fails the whole
answer (a run never keeps part of an answer it could not trust).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .inputs import Inputs
from .models import ActionKind, AnalysisKind

CAMPAIGN_ACTIONS = (ActionKind.SET_DAILY_BUDGET, ActionKind.PAUSE_CAMPAIGN)
ACTIONS_BY_KIND = {AnalysisKind.CAMPAIGNS: CAMPAIGN_ACTIONS, AnalysisKind.PRICING: (ActionKind.SET_PRICE,),
                   AnalysisKind.STOCK: (ActionKind.REORDER,)}


@dataclass(frozen=True)
class Proposal:
    action: str
    target_id: int  # a campaign's id for campaign actions, else a product's
    parameters: dict[str, Any]
    text: str
    rationale: str
    confidence: Decimal
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def on_campaign(self) -> bool:
        return self.action in CAMPAIGN_ACTIONS


class InvalidAnswer(Exception):
    """The model's answer does not hold: the reason says which proposal and why."""


# The JSON schema the model's tool input must follow (analysis/model.py sends it as the tool's input_schema).
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"suggestions": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": [a.value for a in ActionKind]},
            "target_id": {"type": "integer", "description": "The id of the campaign or product in the figures."},
            "daily_budget": {"type": "string", "description": "set_daily_budget: the new budget, e.g. \"30.00\"."},
            "price": {"type": "string", "description": "set_price: the new price, e.g. \"104.99\"."},
            "quantity": {"type": "integer", "description": "reorder: units to buy."},
            "needed_by": {"type": "string", "description": "reorder: YYYY-MM-DD."},
            "text": {"type": "string", "description": "The action in one sentence."},
            "rationale": {"type": "string", "description": "Why, citing the figures."},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["action", "target_id", "text", "rationale", "confidence"],
    }}},
    "required": ["suggestions"],
}


def _amount(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidAnswer(f"{where}: {value!r} is not an amount.") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidAnswer(f"{where}: {value!r} must be more than 0 with at most 2 decimals.")
    return amount


def validate_answer(answer: Any, inputs: Inputs) -> list[Proposal]:
    """The model's tool input → proposals, or InvalidAnswer naming the first thing wrong."""
    if not isinstance(answer, dict) or not isinstance(answer.get("suggestions"), list):
        raise InvalidAnswer("The answer has no `suggestions` list.")
    allowed = ACTIONS_BY_KIND[AnalysisKind(inputs.kind)]
    rows = inputs.data["campaigns"] if inputs.kind == AnalysisKind.CAMPAIGNS else inputs.data["products"]
    known = {row["id"]: row for row in rows}
    proposals = []
    for index, item in enumerate(answer["suggestions"]):
        where = f"suggestions[{index}]"
        if not isinstance(item, dict):
            raise InvalidAnswer(f"{where} is not an object.")
        action = item.get("action")
        if action not in allowed:
            raise InvalidAnswer(f"{where}.action {action!r} is not one of {', '.join(allowed)} for a "
                                f"{inputs.kind} analysis.")
        target = item.get("target_id")
        if isinstance(target, bool) or not isinstance(target, int) or target not in known:
            raise InvalidAnswer(f"{where}.target_id {target!r} is not in the figures given.")
        row = known[target]
        text, rationale = item.get("text"), item.get("rationale")
        if not isinstance(text, str) or not text.strip() or not isinstance(rationale, str):
            raise InvalidAnswer(f"{where}: text and rationale must be text.")
        confidence = item.get("confidence")
        if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
            raise InvalidAnswer(f"{where}.confidence must be a number from 0 to 1.")
        parameters: dict[str, Any]
        if action == ActionKind.SET_DAILY_BUDGET:
            parameters = {"daily_budget": str(_amount(item.get("daily_budget"), f"{where}.daily_budget")),
                          "from": row["daily_budget"], "currency": row["currency"]}
        elif action == ActionKind.PAUSE_CAMPAIGN:
            parameters = {}
        elif action == ActionKind.SET_PRICE:
            parameters = {"price": str(_amount(item.get("price"), f"{where}.price")), "from": row["price"],
                          "currency": row["currency"]}
        else:
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
                raise InvalidAnswer(f"{where}.quantity must be a whole number above 0.")
            try:
                needed_by = date.fromisoformat(str(item.get("needed_by")))
            except ValueError:
                raise InvalidAnswer(f"{where}.needed_by must be a date (YYYY-MM-DD).") from None
            parameters = {"quantity": quantity, "needed_by": needed_by.isoformat()}
        proposals.append(Proposal(action=action, target_id=target, parameters=parameters, text=text.strip()[:500],
                                  rationale=rationale.strip()[:4000],
                                  confidence=Decimal(str(confidence)).quantize(Decimal("0.01"))))
    return proposals
