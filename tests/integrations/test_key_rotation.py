"""`rotate_encryption_keys`: every encrypted value ends under the first key, and reads back."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from integrations.encryption import KeyRing, key_id, key_ring
from integrations.key_rotation import RotationReport, encrypted_models, model_rotate
from integrations.models import SECRET_FIELDS, Integration, OAuthState
from tests.factories import IntegrationFactory


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


KEY_A, KEY_B, KEY_C = new_key(), new_key(), new_key()
KID_A, KID_B, KID_C = (key_id(base64.b64decode(k)) for k in (KEY_A, KEY_B, KEY_C))


def raw_values(model, column: str) -> dict[int, str]:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {connection.ops.quote_name(column)} FROM {table} ORDER BY id")
        return dict(cursor.fetchall())


def set_raw(model, pk, column: str, value: str) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s", [value, pk])


def rotate(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_encryption_keys", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def secrets_for(n: int) -> dict:
    return {
        "api_key": f"ak-{n}",
        "api_secret": f"as-{n}",
        "webhook_secret": f"wh-{n}",
        "access_token": f"at-{n}-ключ",
        "refresh_token": f"rt-{n}",
        "credentials": {"n": n, "nested": {"secret": f"s-{n}", "list": [1, "two", None]}},
    }


ROWS = 7
VALUES_PER_ROW = len(SECRET_FIELDS)
# Every secret of every full row, the blank row's credentials ({} is encrypted too) and the PKCE verifier.
TOTAL = ROWS * VALUES_PER_ROW + 1 + 1


@pytest.fixture
def under_key_a(db):
    """Seven integrations (one with blank secrets too) and an OAuth state, all written under key A."""
    with override_settings(ENCRYPTION_KEYS=[KEY_A]):
        integrations = [IntegrationFactory(**secrets_for(n)) for n in range(ROWS)]
        blank = IntegrationFactory()
        state = OAuthState.objects.create(
            state="s-1",
            provider="sandbox",
            organization=integrations[0].organization,
            redirect_uri="https://app.example/callback",
            code_verifier="pkce-verifier",
            expires_at=timezone.now() + timedelta(minutes=10),
        )
    return integrations, blank, state


def assert_everything_reads_back(integrations, state):
    for n, integration in enumerate(integrations):
        fresh = Integration.objects.get(pk=integration.pk)
        for name, value in secrets_for(n).items():
            assert getattr(fresh, name) == value
    assert OAuthState.objects.get(pk=state.pk).code_verifier == "pkce-verifier"


def test_models_and_fields_are_discovered_not_hard_coded():
    found = {model: {f.name for f in fields} for model, fields in encrypted_models()}
    assert found[Integration] == set(SECRET_FIELDS)
    assert found[OAuthState] == {"code_verifier"}


def test_rotation_moves_every_value_to_the_first_key(under_key_a):
    integrations, blank, state = under_key_a
    assert {KeyRing.token_key_id(v) for v in raw_values(Integration, "api_key").values() if v} == {KID_A}

    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out, err = rotate(batch_size=3)
        assert f"Re-encrypted {TOTAL} value(s); 0 already current." in out
        for column in SECRET_FIELDS:
            for pk, value in raw_values(Integration, column).items():
                if pk == blank.pk and column != "credentials":
                    assert value == ""  # empty stays empty: nothing to encrypt
                else:
                    assert KeyRing.token_key_id(value) == KID_B, (pk, column)
        assert KeyRing.token_key_id(raw_values(OAuthState, "code_verifier")[state.pk]) == KID_B
        assert_everything_reads_back(integrations, state)

    with override_settings(ENCRYPTION_KEYS=[KEY_B]):  # the old key can leave the ring now
        assert_everything_reads_back(integrations, state)
        out, _ = rotate()
        assert f"Re-encrypted 0 value(s); {TOTAL} already current." in out


def test_rerun_reencrypts_nothing(under_key_a):
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        rotate()
        before = raw_values(Integration, "api_key")
        out, _ = rotate()
        assert "Re-encrypted 0 value(s)" in out
        assert raw_values(Integration, "api_key") == before  # untouched, not re-encrypted with a fresh nonce


def test_dry_run_writes_nothing(under_key_a):
    before = raw_values(Integration, "api_secret")
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out, _ = rotate(dry_run=True)
    assert f"Would re-encrypt {TOTAL} value(s); 0 already current." in out
    assert raw_values(Integration, "api_secret") == before


def test_batches_follow_primary_keys(under_key_a):
    integrations, blank, _ = under_key_a
    fields = [Integration._meta.get_field(name) for name in SECRET_FIELDS]
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        batches = list(model_rotate(Integration, fields, report=RotationReport(), batch_size=3))
    assert batches == [3, 3, 2]  # eight rows: seven with secrets and one blank


def test_value_under_an_unknown_key_is_reported_and_the_rest_rotated(under_key_a):
    integrations, _, state = under_key_a
    victim = integrations[2]
    set_raw(Integration, victim.pk, "api_key", KeyRing([KEY_C]).encrypt("lost-secret-value"))
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        with pytest.raises(CommandError, match="1 value\\(s\\) could not be re-encrypted"):
            out, err = StringIO(), StringIO()
            call_command("rotate_encryption_keys", stdout=out, stderr=err)
    report = err.getvalue()
    assert f"integrations.Integration pk={victim.pk} field=api_key" in report
    assert KID_C in report
    assert "lost-secret-value" not in report + out.getvalue()
    assert f"Re-encrypted {TOTAL - 1} value(s)" in out.getvalue()
    assert KeyRing.token_key_id(raw_values(Integration, "api_key")[victim.pk]) == KID_C  # left as it was
    assert KeyRing.token_key_id(raw_values(Integration, "api_secret")[victim.pk]) == KID_B


def test_plaintext_in_an_encrypted_column_is_reported_without_its_value(under_key_a):
    integrations, _, _ = under_key_a
    set_raw(Integration, integrations[0].pk, "refresh_token", "plain-refresh-token")
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        err = StringIO()
        with pytest.raises(CommandError):
            call_command("rotate_encryption_keys", stdout=StringIO(), stderr=err)
    assert f"pk={integrations[0].pk} field=refresh_token: not an encrypted value" in err.getvalue()
    assert "plain-refresh-token" not in err.getvalue()


def test_a_value_changed_during_rotation_is_not_overwritten(under_key_a, monkeypatch):
    """The write is conditional on the token read: a concurrent save under the new key wins."""
    integrations, _, _ = under_key_a
    target = integrations[0]
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        ring = key_ring()
        real_decrypt = KeyRing.decrypt
        changed = []

        def decrypt_while_app_writes(self, token):
            if not changed:
                changed.append(True)
                Integration.objects.filter(pk=target.pk).update(api_key="saved-by-the-app")
            return real_decrypt(self, token)

        monkeypatch.setattr(KeyRing, "decrypt", decrypt_while_app_writes)
        report = RotationReport()
        fields = [Integration._meta.get_field(name) for name in SECRET_FIELDS]
        for _ in model_rotate(Integration, fields, report=report, ring=ring, batch_size=100):
            pass
        monkeypatch.undo()

        assert report.changed_meanwhile == VALUES_PER_ROW
        assert Integration.objects.get(pk=target.pk).api_key == "saved-by-the-app"
        out, _ = rotate()  # the re-run picks up the rest of that row (and the OAuth state, not rotated above)
        assert f"Re-encrypted {VALUES_PER_ROW - 1 + 1} value(s)" in out


def test_batch_size_must_be_positive(db):
    with pytest.raises(CommandError, match="at least 1"):
        rotate(batch_size=0)
