"""The API a Zapier app calls: an auth test, REST-hook subscribe/unsubscribe, and samples per event type.

Authentication and tenancy are the rest of the API's: `Authorization: Api-Key <key>`, the key's organization.
Subscribing and unsubscribing change the organization's webhook endpoints, so they need the admin role like
`POST /api/webhook-endpoints/`; the auth test and the samples need a viewer.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import record_audit
from accounts.authentication import ApiKeyPrincipal
from accounts.tenancy import TenantScopedMixin, request_tenant
from config.api import StrictInputSerializer, error_responses
from config.errors import NotFound, ValidationError
from connectors.rest_hooks import rest_hooks

SOURCE = "zapier"


class HookSubscribeSerializer(StrictInputSerializer):
    target_url = serializers.URLField(max_length=1000, help_text="Zapier's `bundle.targetUrl`.")
    event = serializers.CharField(max_length=128, help_text="One event type (see /api/webhook-endpoints/event-types/).")


class HookUnsubscribeSerializer(StrictInputSerializer):
    id = serializers.IntegerField(required=False, min_value=1, help_text="The id the subscribe answered.")
    target_url = serializers.URLField(required=False, max_length=1000)

    def validate(self, attrs):
        if bool(attrs.get("id")) == bool(attrs.get("target_url")):
            raise serializers.ValidationError({"id": ["Give either id or target_url."]})
        return attrs


class HookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    target_url = serializers.URLField()
    secret = serializers.CharField(help_text="The signing secret (Standard Webhooks), only when the subscription "
                                   "was created by this call; empty otherwise.")


MeSerializer = inline_serializer("ZapierMe", {
    "organization": inline_serializer("ZapierMeOrganization", {
        "id": serializers.IntegerField(), "slug": serializers.CharField(), "name": serializers.CharField()}),
    "role": serializers.CharField(),
    "api_key": serializers.CharField(allow_null=True, help_text="The key's name and prefix (null for a session)."),
})


class ZapierMeView(TenantScopedMixin, APIView):
    @extend_schema(summary="Zapier auth test: who this API key is", responses={200: MeSerializer,
                                                                            **error_responses()})
    def get(self, request: Request) -> Response:
        tenant = request_tenant(request)
        user = request.user
        key = f"{user.api_key.name} ({user.api_key.prefix}…)" if isinstance(user, ApiKeyPrincipal) else None
        org = tenant.organization
        return Response({"organization": {"id": org.pk, "slug": org.slug, "name": org.name},
                         "role": tenant.role, "api_key": key})


class ZapierHooksView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Zapier REST hook: subscribe a target URL to one event type",
        description="Creates an outgoing webhook endpoint of the organization for the event; the next matching "
                    "event is delivered there signed. The same target URL and event again answers the existing "
                    "subscription (200, no secret).",
        request=HookSubscribeSerializer,
        responses={201: HookSerializer, 200: HookSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: unknown event type, or a target URL outgoing "
                                                 "webhooks may not call (not https, private address).")},
    )
    def post(self, request: Request) -> Response:
        body = HookSubscribeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hook = rest_hooks().hook_subscribe(organization=self.organization, source=SOURCE, **body.validated_data)
        if hook.created:
            record_audit(action="zapier.subscribed", request=request, organization=self.organization,
                         details={"endpoint": hook.id, "event": hook.event})
        return Response({"id": hook.id, "event": hook.event, "target_url": hook.target_url, "secret": hook.secret},
                        status=status.HTTP_201_CREATED if hook.created else status.HTTP_200_OK)

    @extend_schema(
        summary="Zapier REST hook: unsubscribe (by id or target URL)",
        operation_id="zapier_hooks_unsubscribe",
        request=HookUnsubscribeSerializer,
        responses={204: None, **error_responses(bad_request="VALIDATION_ERROR: neither or both of id, target_url.",
                                                not_found="NOT_FOUND: no such Zapier subscription.")},
    )
    def delete(self, request: Request) -> Response:
        body = HookUnsubscribeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _unsubscribe(request, self.organization, subscription_id=body.validated_data.get("id"),
                            target_url=body.validated_data.get("target_url", ""))


class ZapierHookView(TenantScopedMixin, APIView):
    @extend_schema(summary="Zapier REST hook: unsubscribe `subscribeData.id`", request=None,
                   operation_id="zapier_hook_unsubscribe",
                   responses={204: None, **error_responses(not_found="NOT_FOUND: no such Zapier subscription.")})
    def delete(self, request: Request, hook_id: int) -> Response:
        return _unsubscribe(request, self.organization, subscription_id=hook_id, target_url="")


def _unsubscribe(request: Request, organization, *, subscription_id: int | None, target_url: str) -> Response:
    removed = rest_hooks().hook_unsubscribe(organization=organization, source=SOURCE,
                                            subscription_id=subscription_id, target_url=target_url)
    if not removed:
        raise NotFound("No such Zapier subscription.", details={"id": str(subscription_id or target_url)})
    record_audit(action="zapier.unsubscribed", request=request, organization=organization,
                 details={"endpoint": subscription_id, "target_url": target_url, "removed": removed})
    return Response(status=status.HTTP_204_NO_CONTENT)


class ZapierSampleView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Zapier sample: an example delivery body of an event type (performList)",
        description="An array of one delivery body, exactly as a subscription receives it.",
        responses={200: inline_serializer("ZapierSample", {"type": serializers.CharField(),
                                                           "timestamp": serializers.CharField(),
                                                           "data": serializers.DictField()}, many=True),
                   **error_responses(not_found="NOT_FOUND: unknown event type.")},
    )
    def get(self, request: Request, event_type: str) -> Response:
        try:
            sample = rest_hooks().hook_sample(event_type)
        except ValidationError:
            raise NotFound(f"Unknown event type {event_type!r}.", details={"event_type": event_type}) from None
        return Response([sample])
