from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import AnalysisKind, AnalysisRun, Suggestion, SuggestionStatus

SCOPE_LIMIT = 500  # ids or SKUs in one scope (the console refuses a larger selection, naming "Analyse all")
BIGINT_MAX = 2**63 - 1


class SuggestionSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id", read_only=True)
    campaign = serializers.IntegerField(source="campaign_id", read_only=True, allow_null=True)
    product = serializers.IntegerField(source="product_id", read_only=True, allow_null=True)

    class Meta:
        model = Suggestion
        fields = ["id", "run", "campaign", "product", "action", "parameters", "text", "rationale", "confidence",
                  "source", "status", "decided_by_label", "decided_at", "claimed_at", "apply_attempts", "applied_at",
                  "error", "created_at"]
        read_only_fields = fields


class AnalysisRunSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id", read_only=True, allow_null=True)
    tokens_used = serializers.IntegerField(read_only=True)
    source = serializers.CharField(read_only=True, help_text="`model` or `rules`; empty until the run finishes.")
    suggestions = serializers.SerializerMethodField(help_text="In the order the analysis made them.")
    retry_of = serializers.IntegerField(source="retry_of_id", read_only=True, allow_null=True,
                                        help_text="The failed or refused run this one retries.")
    retry = serializers.SerializerMethodField(help_text="The run that retried this one, if any.")

    class Meta:
        model = AnalysisRun
        fields = ["id", "kind", "scope", "status", "source", "integration", "model", "inputs_digest", "input_tokens",
                  "output_tokens", "tokens_used", "cost_estimate", "trigger", "created_by_label", "error",
                  "fallback_reason", "created_at", "started_at", "finished_at", "retry_of", "retry", "suggestions"]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_retry(self, run: AnalysisRun) -> int | None:
        retry = getattr(run, "retry", None)
        return None if retry is None else retry.pk

    @extend_schema_field(SuggestionSerializer(many=True))
    def get_suggestions(self, run: AnalysisRun) -> list[dict]:
        return SuggestionSerializer(sorted(run.suggestions.all(), key=lambda s: s.pk), many=True).data


class ScopeSerializer(serializers.Serializer):
    ad_account = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX,
                                          help_text="campaigns: one ad account's.")
    campaigns = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
                                      required=False, max_length=SCOPE_LIMIT,
                                      help_text="campaigns: these campaigns only (ids).")
    skus = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=SCOPE_LIMIT,
                                 help_text="pricing and stock: these SKUs only.")


class AnalysisStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnalysisKind.choices)
    scope = ScopeSerializer(required=False, default=dict, help_text="Optional: what to look at (default all).")


class SuggestionFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SuggestionStatus.choices, required=False)
    run = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
