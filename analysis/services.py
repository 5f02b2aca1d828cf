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

A failed or refused run stays as it ended; `analysis_retry` starts a new run of the same kind and scope that
names it (`retry_of`, one to one: a run is retried once, a failed retry is retried in its turn).
`analysis_abandon_stale` fails a run a dead worker left `running`, so it can be retried, and `_finish` writes
only a run still running, so a worker that comes back late cannot overwrite that.

Deciding suggestions is analysis/decisions.py.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework import status as http_status

from accounts.models import Organization
from ads.models import Campaign
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
    AnalysisKind,
    AnalysisRun,
    AnalysisSettings,
    RunStatus,
    Source,
    Suggestion,
    Trigger,
)
from .proposals import InvalidAnswer, Proposal, validate_answer

logger = logging.getLogger(__name__)

WORKER_LOST = "The worker running it stopped before finishing. Retry it."


class TokenBudgetExceeded(ApplicationError):
    code = "AI_TOKEN_BUDGET_EXCEEDED"
    http_status = http_status.HTTP_422_UNPROCESSABLE_ENTITY
    default_message = "This analysis would exceed the organization's monthly AI token budget."


class RunNotRetryable(ApplicationError):
    code = "ANALYSIS_NOT_RETRYABLE"
    http_status = http_status.HTTP_409_CONFLICT
    default_message = "Only a failed or refused analysis can be retried, and only once."


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
                   enqueue: bool = True, retry_of: AnalysisRun | None = None) -> AnalysisRun:
    """Record a queued run and send it to a worker (enqueue=False: the caller runs it).

    Raises ValidationError (bad kind), RunNotRetryable (`retry_of` was retried meanwhile) or TokenBudgetExceeded
    (recorded as a refused run, so the schedule's refusals are visible too)."""
    if kind not in AnalysisKind.values:
        raise ValidationError(details={"kind": [f"Must be one of {', '.join(AnalysisKind.values)}."]})
    user = getattr(request, "user", None)
    user = user if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) else None
    label = actor_label or (str(user) if user else "")
    run = AnalysisRun(organization=organization, kind=kind, scope=scope or {}, trigger=trigger,
                      created_by=user, created_by_label=label[:200], retry_of=retry_of)
    integration = ai_integration(organization)
    if integration is not None:
        computed = figures.compute(kind, organization=organization, scope=scope)
        try:
            check_budget(organization, prompts.estimated_tokens(prompts.question(computed)))
        except TokenBudgetExceeded as exc:
            run.status, run.error, run.integration, run.finished_at = (RunStatus.REFUSED, exc.message, integration,
                                                                        timezone.now())
            run.inputs_digest = computed.digest
            _save_new(run)
            raise
    _save_new(run)
    if enqueue:
        from .tasks import run_analysis

        nudge_on_commit(run_analysis, (run.pk,))
    return run


def _save_new(run: AnalysisRun) -> None:
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            run.save()
    except IntegrityError:  # retry_of is one to one: a concurrent retry of the same run got there first
        if run.retry_of_id is None:
            raise
        raise RunNotRetryable("This analysis was retried already.",
                              details={"retry": AnalysisRun.objects.get(retry_of_id=run.retry_of_id).pk}) from None


def analysis_retry(*, run: AnalysisRun, trigger: str = Trigger.API, request=None, actor_label: str = "",
                   enqueue: bool = True) -> AnalysisRun:
    """A new run of the failed or refused `run`'s kind and scope, naming it. The old run is left as it ended.

    Raises RunNotRetryable (it did not fail, or was retried already: `details.retry`) or TokenBudgetExceeded."""
    if run.status not in (RunStatus.FAILED, RunStatus.REFUSED):
        raise RunNotRetryable(f"This analysis is {run.status}: only a failed or refused one can be retried.",
                              details={"status": run.status})
    retried = AnalysisRun.objects.filter(retry_of=run).values_list("pk", flat=True).first()
    if retried is not None:
        raise RunNotRetryable("This analysis was retried already.", details={"retry": retried})
    return analysis_start(organization=run.organization, kind=run.kind, scope=run.scope, trigger=trigger,
                          request=request, actor_label=actor_label, enqueue=enqueue, retry_of=run)


def analysis_abandon_stale(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Fail the runs a dead worker left `running` (started longer ago than any run takes); how many."""
    now = now or timezone.now()
    return AnalysisRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=now - older_than).update(
        status=RunStatus.FAILED, finished_at=now, error=WORKER_LOST)


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
            with transaction.atomic():
                if _still_running(run.pk):
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


def _still_running(run_id: int) -> bool:
    """Lock the run and say whether it is still this worker's (the sweep may have failed it as abandoned)."""
    return bool(list(AnalysisRun.objects.select_for_update().filter(pk=run_id, status=RunStatus.RUNNING)
                     .values_list("pk", flat=True)))


def _finish(run: AnalysisRun, proposals: list[Proposal]) -> None:
    with transaction.atomic():
        if not _still_running(run.pk):
            logger.warning("analysis run %s: finished after it was given up as abandoned; its answer is dropped",
                           run.pk)
            run.refresh_from_db()
            return
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
