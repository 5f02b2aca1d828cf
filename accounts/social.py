"""Google sign-in for staff: pipeline steps that keep the admin to the people it is meant for.

`ALLOWED_EMAILS` and `ALLOWED_EMAIL_DOMAINS` are the whole policy: an address
on either list may sign in and becomes staff; with both lists empty nobody may.
Being staff lets a person into the admin, where what they see still depends on
their memberships (accounts/staff_scope.py). To shut someone out, take them off
the lists or mark the user inactive: each sign-in re-checks the lists, and the
admin refuses inactive users.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from social_core.exceptions import AuthPolicyError


def email_allowed(email: str) -> bool:
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        return False
    allowed = {e.strip().lower() for e in settings.ALLOWED_EMAILS if e.strip()}
    domains = {d.strip().lower().lstrip("@") for d in settings.ALLOWED_EMAIL_DOMAINS if d.strip()}
    return email in allowed or email.rsplit("@", 1)[1] in domains


def require_allowed_email(backend, details, *args, response=None, **kwargs):
    """Refuse anyone not on ALLOWED_EMAILS / ALLOWED_EMAIL_DOMAINS (both empty: nobody), or whose address
    Google says is unverified (a domain match means nothing for an address nobody proved they own).

    Raises AuthPolicyError, social-auth-core 7's name for the old AuthForbidden; its middleware turns it into
    a redirect to SOCIAL_AUTH_LOGIN_ERROR_URL when exceptions are not raised (DEBUG off).
    """
    if isinstance(response, dict) and response.get("email_verified") is False:
        raise _refused(backend)
    if not email_allowed(details.get("email", "")):
        raise _refused(backend)


def _refused(backend) -> AuthPolicyError:
    return AuthPolicyError(backend, "This Google account may not sign in.", code="authentication_disallowed",
                           stage="pipeline")


def make_staff(user=None, *args, **kwargs):
    """Let an allowed Google user into the admin; what they see still depends on memberships."""
    if user is not None and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def sign_in_options(request: HttpRequest) -> dict[str, bool]:
    """Template context: whether the admin login page offers "Sign in with Google"."""
    return {"google_sign_in_enabled": bool(settings.SOCIAL_AUTH_GOOGLE_OAUTH2_KEY)}
