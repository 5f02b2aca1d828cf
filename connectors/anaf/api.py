"""`POST /api/tax/validate/`: a company's VAT registration at ANAF, by CUI (or several: `cuis`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import TenantScopedMixin
from config.api import error_responses

from .services import MAX_CUIS, anaf_integration_for, vat_lookup


class TaxValidateSerializer(serializers.Serializer):
    cui = serializers.CharField(required=False, max_length=20, help_text="With or without RO: RO14399840.")
    cuis = serializers.ListField(child=serializers.CharField(max_length=20), required=False, max_length=MAX_CUIS,
                                 help_text="Several at once (batched and cached like one).")

    def validate(self, attrs):
        if bool(attrs.get("cui")) == bool(attrs.get("cuis")):
            raise serializers.ValidationError({"cui": ["Give either cui or cuis."]})
        return attrs


class VatRegistrationSerializer(serializers.Serializer):
    cui = serializers.CharField()
    found = serializers.BooleanField()
    name = serializers.CharField()
    address = serializers.CharField()
    vat_payer = serializers.BooleanField()
    vat_payer_since = serializers.CharField(allow_null=True)
    registration_status = serializers.CharField()
    inactive = serializers.BooleanField()
    trade_register_number = serializers.CharField()
    e_invoice = serializers.BooleanField()
    checked_on = serializers.DateField()


class TaxValidateView(TenantScopedMixin, APIView):
    action = "validate"
    operator_actions = ("validate",)  # it calls ANAF; viewers may not spend the organization's rate

    @extend_schema(
        summary="Check a company's VAT registration at ANAF",
        request=TaxValidateSerializer,
        responses={200: VatRegistrationSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: not a CUI (format or check digit); no call made.",
                                     not_found="INTEGRATION_NOT_FOUND: the organization has no ANAF integration.")},
    )
    def post(self, request: Request) -> Response:
        body = TaxValidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integration = anaf_integration_for(self.organization)
        if body.validated_data.get("cui"):
            cui = body.validated_data["cui"]
            return Response(vat_lookup(integration=integration, cuis=[cui])[cui])
        results = vat_lookup(integration=integration, cuis=body.validated_data["cuis"])
        return Response({"results": [results[str(c)] for c in body.validated_data["cuis"]]})
