"""The route Slack calls: the `/switchyard` slash command (one per app, routed by workspace)."""

from django.urls import path

from config.schema import ERROR, json_response

from .commands import slash_command

urlpatterns = [path("slack/commands/", slash_command, name="slack-commands")]

OPENAPI_PATHS = {
    "/api/slack/commands/": {
        "post": {
            "operationId": "slack_slash_command",
            "summary": "Slack slash command",
            "description": "`/switchyard health | sync <code> | help`, form-encoded as Slack sends it, signed with "
                           "`X-Slack-Signature` (v0) and `X-Slack-Request-Timestamp` (±300 s). Answers an "
                           "ephemeral Slack message; a bad signature is 401 INVALID_SIGNATURE.",
            "tags": ["provider callbacks"], "security": [],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {
                    "team_id": {"type": "string"}, "user_id": {"type": "string"}, "command": {"type": "string"},
                    "text": {"type": "string"}}}}}},
            "responses": {
                "200": json_response({"type": "object"}, "A Slack message (`response_type`, `text`)."),
                "401": json_response(ERROR, "INVALID_SIGNATURE"),
            },
        },
    },
}
