"""Steps of the Google sign-in pipeline that keep the admin to the people it is meant for."""

from __future__ import annotations

from django.conf import settings
from social_core.exceptions import AuthForbidden


def email_allowed(email: str) -> bool:
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        return False
    allowed = {e.lower() for e in settings.ALLOWED_EMAILS}
    domains = {d.lower().lstrip("@") for d in settings.ALLOWED_EMAIL_DOMAINS}
    return email in allowed or email.rsplit("@", 1)[1] in domains


def require_allowed_email(backend, details, *args, **kwargs):
    """Refuse anyone not on ALLOWED_EMAILS / ALLOWED_EMAIL_DOMAINS (both empty: nobody)."""
    if not email_allowed(details.get("email", "")):
        raise AuthForbidden(backend)


def make_staff(user=None, *args, **kwargs):
    """Let an allowed Google user into the admin; what they see still depends on memberships."""
    if user is not None and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
