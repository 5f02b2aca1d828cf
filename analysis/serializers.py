from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import AnalysisKind, AnalysisRun, Suggestion, SuggestionStatus


class SuggestionSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id", read_only=True)
    campaign = serializers.IntegerField(source="campaign_id", read_only=True, allow_null=True)
    product = serializers.IntegerField(source="product_id", read_only=True, allow_null=True)

    class Meta:
        model = Suggestion
        fields = ["id", "run", "campaign", "product", "action", "parameters", "text", "rationale", "confidence",
                  "source", "status", "decided_by_label", "decided_at", "applied_at", "error", "created_at"]
        read_only_fields = fields


class AnalysisRunSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id", read_only=True, allow_null=True)
    tokens_used = serializers.IntegerField(read_only=True)
    source = serializers.CharField(read_only=True, help_text="`model` or `rules`; empty until the run finishes.")
    suggestions = serializers.SerializerMethodField(help_text="In the order the analysis made them.")

    class Meta:
        model = AnalysisRun
        fields = ["id", "kind", "scope", "status", "source", "integration", "model", "inputs_digest", "input_tokens",
                  "output_tokens", "tokens_used", "cost_estimate", "trigger", "created_by_label", "error",
                  "fallback_reason", "created_at", "started_at", "finished_at", "suggestions"]
        read_only_fields = fields


    @extend_schema_field(SuggestionSerializer(many=True))
    def get_suggestions(self, run: AnalysisRun) -> list[dict]:
        return SuggestionSerializer(sorted(run.suggestions.all(), key=lambda s: s.pk), many=True).data


class ScopeSerializer(serializers.Serializer):
    ad_account = serializers.IntegerField(required=False, min_value=1, help_text="campaigns: one ad account's.")
    skus = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=500,
                                 help_text="pricing and stock: these SKUs only.")


class AnalysisStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnalysisKind.choices)
    scope = ScopeSerializer(required=False, default=dict, help_text="Optional: what to look at (default all).")


class SuggestionFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SuggestionStatus.choices, required=False)
    run = serializers.IntegerField(required=False)
