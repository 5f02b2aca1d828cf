"""Starting and running analyses, and deciding their suggestions. The one place that writes analysis records.

`analysis_start` records a queued run (refusing at once a run the month's token budget cannot take) and nudges
the worker; `analysis_run` does the work, once (a conditional queued → running update claims it):

1. the ERP computes the figures (inputs.py) and their digest;
2. with an active AI integration (a connector with the `analysis` capability), the model is asked for a
   structured answer (prompts.py), which is validated (proposals.py): an invalid answer fails the run with the
   reason and keeps nothing of it; a provider failure (down, throttled past the retries, a refused key) falls
   back to the rules, and the run says why (`fallback_reason`);
3. without one, the rule-based analyzer (rules.py) answers;
4. the suggestions and the finished run are written in one transaction, which publishes
   `ads.suggestions_ready` when there is at least one.

`suggestion_accept` applies a proposed suggestion through the owning app's service (a campaign's budget or
status: ads.services, which asks the platform first; a price: commerce.services; a reorder: a PurchaseNeed),
once: the proposed → accepted update claims it, so a double click applies nothing twice. `suggestion_reject`
only records the decision. Nothing is applied that a person did not accept.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework import status as http_status

from accounts.audit import record_audit
from accounts.models import Organization
from ads.models import Campaign
from ads.services import campaign_budget_set, campaign_status_set
from commerce.models import Product
from commerce.services.products import product_price_set
from config.broker import nudge_on_commit
from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.errors import ProviderError
from integrations.events import publish
from integrations.models import Integration, IntegrationStatus
from integrations.payloads import integration_summary

from . import inputs as figures
from . import prompts, rules
from .models import (
    ActionKind,
    AnalysisKind,
    AnalysisRun,
    AnalysisSettings,
    PurchaseNeed,
    RunStatus,
    Source,
    Suggestion,
    SuggestionStatus,
    Trigger,
)
from .proposals import InvalidAnswer, Proposal, validate_answer

logger = logging.getLogger(__name__)


class TokenBudgetExceeded(ApplicationError):
    code = "AI_TOKEN_BUDGET_EXCEEDED"
    http_status = http_status.HTTP_422_UNPROCESSABLE_ENTITY
    default_message = "This analysis would exceed the organization's monthly AI token budget."


class SuggestionNotProposed(ApplicationError):
    code = "SUGGESTION_NOT_PROPOSED"
    http_status = http_status.HTTP_409_CONFLICT
    default_message = "Only a proposed suggestion can be accepted or rejected."


# ------------------------------------------------------------------ which model, what budget
def ai_integration(organization: Organization) -> Integration | None:
    """The organization's active integration whose provider analyses (the oldest, if several)."""
    for integration in Integration.objects.filter(organization=organization, status=IntegrationStatus.ACTIVE,
                                                  type="ai").order_by("id"):
        if registry.is_registered(integration.provider) and registry.get(integration.provider).supports(
                Capability.ANALYSIS):
            return integration
    return None


def monthly_budget(organization: Organization) -> int:
    own = AnalysisSettings.objects.filter(organization=organization).values_list("monthly_token_budget",
                                                                                 flat=True).first()
    return settings.AI_MONTHLY_TOKEN_BUDGET if own is None else own


def tokens_used_this_month(organization: Organization, *, today: date | None = None) -> int:
    today = today or timezone.now().date()
    used = AnalysisRun.objects.filter(organization=organization, created_at__year=today.year,
                                      created_at__month=today.month).aggregate(
        i=Sum("input_tokens"), o=Sum("output_tokens"))
    return (used["i"] or 0) + (used["o"] or 0)


def check_budget(organization: Organization, estimate: int) -> None:
    budget, used = monthly_budget(organization), tokens_used_this_month(organization)
    if used + estimate > budget:
        raise TokenBudgetExceeded(
            f"This analysis would use up to {estimate} tokens; {used} of this month's {budget} are used, so it "
            f"would exceed the organization's monthly AI token budget. Raise the budget (Analysis settings) or "
            f"wait for next month; the rule-based analyzer needs no tokens.",
            details={"estimate": estimate, "used": used, "budget": budget})


# ------------------------------------------------------------------ start and run
def analysis_start(*, organization: Organization, kind: str, scope: dict[str, Any] | None = None,
                   trigger: str = Trigger.API, request=None, actor_label: str = "",
                   enqueue: bool = True) -> AnalysisRun:
    """Record a queued run and send it to a worker (enqueue=False: the caller runs it).

    Raises ValidationError (bad kind) or TokenBudgetExceeded
    (recorded as a refused run, so the schedule's refusals are visible too)."""
    if kind not in AnalysisKind.values:
        raise ValidationError(details={"kind": [f"Must be one of {', '.join(AnalysisKind.values)}."]})
    user = getattr(request, "user", None)
    user = user if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) else None
    label = actor_label or (str(user) if user else "")
    run = AnalysisRun(organization=organization, kind=kind, scope=scope or {}, trigger=trigger,
                      created_by=user, created_by_label=label[:200])
    integration = ai_integration(organization)
    if integration is not None:
        computed = figures.compute(kind, organization=organization, scope=scope)
        try:
            check_budget(organization, prompts.estimated_tokens(prompts.question(computed)))
        except TokenBudgetExceeded as exc:
            run.status, run.error, run.integration, run.finished_at = (RunStatus.REFUSED, exc.message, integration,
                                                                        timezone.now())
            run.inputs_digest = computed.digest
            run.save()
            raise
    run.save()
    if enqueue:
        from .tasks import run_analysis

        nudge_on_commit(run_analysis, (run.pk,))
    return run


def analysis_run(run_id: int, *, as_of: date | None = None) -> AnalysisRun | None:
    """Run a queued analysis (None when another worker has it, or it is not queued)."""
    if not AnalysisRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now()):
        return None
    run = AnalysisRun.objects.select_related("organization").get(pk=run_id)
    computed = figures.compute(run.kind, organization=run.organization, scope=run.scope, as_of=as_of)
    run.inputs_digest = computed.digest
    integration = ai_integration(run.organization)
    proposals: list[Proposal] | None = None
    if integration is not None:
        run.integration = integration
        proposals = _ask_model(run, integration, computed)
        if run.status in (RunStatus.FAILED, RunStatus.REFUSED):
            run.finished_at = timezone.now()
            run.save()
            return run
    if proposals is None:
        proposals, run.source = rules.analyze(computed), Source.RULES
    _finish(run, proposals)
    return run


def _ask_model(run: AnalysisRun, integration: Integration, computed: figures.Inputs) -> list[Proposal] | None:
    """The model's validated proposals; None to let the rules answer (the reason kept on the run); [] with the
    run failed or refused when there is nothing to keep."""
    question = prompts.question(computed)
    try:
        check_budget(run.organization, prompts.estimated_tokens(question))
    except TokenBudgetExceeded as exc:
        run.status, run.error = RunStatus.REFUSED, exc.message
        return []
    connector = registry.connector_for(integration)
    run.model = connector.model_name()
    try:
        answer = connector.analyze(question)
    except (ProviderError, ApplicationError) as exc:
        run.fallback_reason = f"{exc.message} — the rule-based analyzer answered instead."[:2000]
        logger.warning("analysis run %s: the model failed (%s); rules answer", run.pk, exc.message)
        return None
    run.model, run.source = answer.model, Source.MODEL
    run.input_tokens, run.output_tokens, run.cost_estimate = (answer.input_tokens, answer.output_tokens,
                                                              answer.cost_estimate)
    try:
        if answer.tool_input is None:
            raise InvalidAnswer(f"The model answered without calling {prompts.TOOL_NAME} "
                                f"(stop reason {answer.stop_reason or 'unknown'}).")
        return validate_answer(answer.tool_input, computed)
    except InvalidAnswer as exc:
        run.status, run.error = RunStatus.FAILED, f"The model's answer was not valid: {exc}"
        return []


def _finish(run: AnalysisRun, proposals: list[Proposal]) -> None:
    with transaction.atomic():
        rows = [Suggestion(organization=run.organization, run=run, action=p.action, parameters=p.parameters,
                           text=p.text, rationale=p.rationale, confidence=p.confidence, source=run.source,
                           campaign_id=p.target_id if p.on_campaign else None,
                           product_id=None if p.on_campaign else p.target_id) for p in proposals]
        Suggestion.objects.bulk_create(rows)
        run.status, run.finished_at = RunStatus.COMPLETED, timezone.now()
        run.save()
        if rows:
            publish("ads.suggestions_ready", suggestions_payload(run, len(rows)), run.organization,
                    run.integration)


def suggestions_payload(run: AnalysisRun, count: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"run": {"id": run.pk, "kind": run.kind, "source": run.source}, "suggestions": count,
                               "integration": integration_summary(run.integration) if run.integration else None}
    if run.kind == AnalysisKind.CAMPAIGNS:
        account = (Campaign.objects.filter(pk__in=run.suggestions.values("campaign_id"))
                   .values("ad_account_id", "ad_account__name").first())
        if account:
            payload["ad_account"] = {"id": account["ad_account_id"], "name": account["ad_account__name"]}
    return payload


# ------------------------------------------------------------------ decisions
def _claim(suggestion: Suggestion, status: str, label: str) -> None:
    if not Suggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.PROPOSED).update(
            status=status, decided_by_label=label[:200], decided_at=timezone.now()):
        raise SuggestionNotProposed(details={"status": Suggestion.objects.get(pk=suggestion.pk).status})


def _who(request, actor_label: str) -> str:
    user = getattr(request, "user", None)
    return actor_label or str(getattr(user, "api_key", None) or user or "")


def suggestion_reject(*, suggestion: Suggestion, request=None, actor_label: str = "") -> Suggestion:
    _claim(suggestion, SuggestionStatus.REJECTED, _who(request, actor_label))
    record_audit(action="suggestion.rejected", request=request, target=suggestion, actor_label=actor_label or None,
                 details={"suggestion": suggestion.pk, "action": suggestion.action})
    suggestion.refresh_from_db()
    return suggestion


def suggestion_accept(*, suggestion: Suggestion, request=None, actor_label: str = "") -> Suggestion:
    """Apply it, once. A refusal by the owning service (the platform said no, the value is no longer valid)
    leaves the suggestion `failed` with the reason, and raises it."""
    _claim(suggestion, SuggestionStatus.ACCEPTED, _who(request, actor_label))
    reason = f"suggestion {suggestion.pk}: {suggestion.text}"[:300]
    label = actor_label or None
    try:
        applied = _apply(suggestion, reason=reason, request=request, actor_label=label)
    except ApplicationError as exc:
        Suggestion.objects.filter(pk=suggestion.pk).update(status=SuggestionStatus.FAILED, error=exc.message[:2000])
        record_audit(action="suggestion.apply_failed", request=request, target=suggestion, actor_label=label,
                     details={"suggestion": suggestion.pk, "action": suggestion.action, "reason": exc.message[:300]})
        raise
    Suggestion.objects.filter(pk=suggestion.pk).update(status=SuggestionStatus.APPLIED, applied_at=timezone.now())
    record_audit(action="suggestion.applied", request=request, target=suggestion, actor_label=label,
                 details={"suggestion": suggestion.pk, "action": suggestion.action,
                          "parameters": suggestion.parameters, **applied})
    suggestion.refresh_from_db()
    return suggestion


def _apply(suggestion: Suggestion, *, reason: str, request, actor_label: str | None) -> dict[str, Any]:
    params = suggestion.parameters
    if suggestion.action == ActionKind.SET_DAILY_BUDGET:
        campaign = Campaign.objects.select_related("integration", "ad_account").get(pk=suggestion.campaign_id)
        campaign_budget_set(campaign=campaign, daily_budget=params["daily_budget"], reason=reason, request=request,
                            actor_label=actor_label)
        return {"campaign": campaign.pk}
    if suggestion.action == ActionKind.PAUSE_CAMPAIGN:
        campaign = Campaign.objects.select_related("integration", "ad_account").get(pk=suggestion.campaign_id)
        campaign_status_set(campaign=campaign, status="paused", reason=reason, request=request,
                            actor_label=actor_label)
        return {"campaign": campaign.pk}
    if suggestion.action == ActionKind.SET_PRICE:
        product = Product.objects.get(pk=suggestion.product_id)
        product_price_set(product=product, price=Decimal(params["price"]), reason=reason, request=request,
                          actor_label=actor_label)
        return {"product": product.pk}
    need = PurchaseNeed.objects.create(organization=suggestion.organization, product_id=suggestion.product_id,
                                       quantity=int(params["quantity"]), suggestion=suggestion,
                                       needed_by=date.fromisoformat(params["needed_by"]))
    return {"product": suggestion.product_id, "purchase_need": need.pk}
