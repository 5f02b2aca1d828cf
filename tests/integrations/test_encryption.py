"""Field encryption: nothing readable at rest, types kept, tampering caught, bad keys refused at boot."""

from __future__ import annotations

import base64
import json
import os

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from integrations.encryption import (
    DecryptionError,
    EncryptedJSONField,
    KeyRing,
    is_encrypted,
    key_id,
    key_ring,
)
from integrations.models import SECRET_FIELDS, Integration
from tests.factories import IntegrationFactory

TEXT_SECRETS = {
    "api_key": "ak-live-PLAINTEXT-1111",
    "api_secret": "as-live-PLAINTEXT-2222",
    "webhook_secret": "whsec_PLAINTEXT-3333",
    "access_token": "at-PLAINTEXT-4444",
    "refresh_token": "rt-PLAINTEXT-5555",
}
CREDENTIALS = {
    "client_secret": "cs-PLAINTEXT-6666",
    "nested": {"pin": "pin-PLAINTEXT-7777", "codes": ["code-PLAINTEXT-8888", 42, True, None, 1.5]},
    "unicode": "пароль-密码-🔑",
}


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def raw_row(model, pk) -> dict[str, object]:
    """The row as the database stores it, read without the ORM's field conversions."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        columns = [col[0] for col in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def leaves(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, str):
        yield value


@pytest.fixture
def integration(db):
    return IntegrationFactory(**TEXT_SECRETS, credentials=CREDENTIALS)


def test_secret_fields_are_every_encrypted_field():
    encrypted = {f.name for f in Integration._meta.concrete_fields if f.name in SECRET_FIELDS}
    assert encrypted == set(SECRET_FIELDS)


def test_raw_sql_finds_no_plaintext_in_the_integrations_table(integration):
    row = raw_row(Integration, integration.pk)
    dumped = "\n".join(str(cell) for cell in row.values())
    secrets = [*TEXT_SECRETS.values(), *(leaf for leaf in leaves(CREDENTIALS) if "PLAINTEXT" in leaf or "🔑" in leaf)]
    for secret in secrets:
        assert secret not in dumped
    assert "client_secret" not in dumped  # not even the JSON's keys
    for name in SECRET_FIELDS:
        assert KeyRing.token_key_id(row[name]) == key_ring().primary_id, name


def test_values_read_back_with_their_python_types(integration):
    fresh = Integration.objects.get(pk=integration.pk)
    for name, value in TEXT_SECRETS.items():
        assert getattr(fresh, name) == value
        assert type(getattr(fresh, name)) is str
    assert fresh.credentials == CREDENTIALS
    assert isinstance(fresh.credentials["nested"], dict)
    assert fresh.credentials["nested"]["codes"] == ["code-PLAINTEXT-8888", 42, True, None, 1.5]
    assert fresh.credentials["unicode"] == "пароль-密码-🔑"


def test_unicode_text_secret_round_trips(db):
    integration = IntegrationFactory(api_key="ключ-鍵-🗝️-\u00e9")
    assert Integration.objects.get(pk=integration.pk).api_key == "ключ-鍵-🗝️-\u00e9"


def test_empty_secrets_stay_empty_and_unencrypted(db):
    integration = IntegrationFactory()
    row = raw_row(Integration, integration.pk)
    assert row["api_key"] == ""
    fresh = Integration.objects.get(pk=integration.pk)
    assert fresh.api_key == ""
    assert fresh.credentials == {}


def test_updating_a_secret_keeps_it_encrypted(integration):
    Integration.objects.filter(pk=integration.pk).update(api_key="rotated-PLAINTEXT-9999")
    assert "rotated-PLAINTEXT-9999" not in str(raw_row(Integration, integration.pk)["api_key"])
    assert Integration.objects.get(pk=integration.pk).api_key == "rotated-PLAINTEXT-9999"


def test_two_encryptions_of_one_value_differ():
    ring = key_ring()
    first, second = ring.encrypt("same secret"), ring.encrypt("same secret")
    assert first != second
    assert ring.decrypt(first) == ring.decrypt(second) == "same secret"


def test_two_rows_with_one_secret_store_different_ciphertexts(db):
    a = IntegrationFactory(api_key="shared-secret")
    b = IntegrationFactory(api_key="shared-secret")
    assert raw_row(Integration, a.pk)["api_key"] != raw_row(Integration, b.pk)["api_key"]


def test_token_names_its_key():
    ring = key_ring()
    token = ring.encrypt("x")
    assert token.startswith(f"enc1:{ring.primary_id}:")
    assert is_encrypted(token)
    assert not is_encrypted("plain")
    assert not is_encrypted("")


def _tamper(token: str) -> str:
    prefix, kid, payload = token.split(":", 2)
    blob = bytearray(base64.b64decode(payload))
    blob[-1] ^= 0x01
    return f"{prefix}:{kid}:{base64.b64encode(bytes(blob)).decode()}"


def test_tampered_ciphertext_raises_decryption_error():
    ring = key_ring()
    with pytest.raises(DecryptionError) as caught:
        ring.decrypt(_tamper(ring.encrypt("do not leak me")))
    assert "do not leak me" not in str(caught.value)


def test_tampered_column_raises_when_the_row_is_loaded(integration):
    table = connection.ops.quote_name(Integration._meta.db_table)
    tampered = _tamper(raw_row(Integration, integration.pk)["api_key"])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET api_key = %s WHERE id = %s", [tampered, integration.pk])
    with pytest.raises(DecryptionError):
        Integration.objects.get(pk=integration.pk)


@pytest.mark.parametrize("token", ["plain text", "enc1:onlytwo", "enc2:abcd1234:AAAA", "enc1:abcd1234:@@@"])
def test_values_that_are_not_tokens_raise_decryption_error(token):
    with pytest.raises(DecryptionError):
        key_ring().decrypt(token)


def test_value_under_a_key_not_in_the_ring_names_the_key_id():
    old_key = new_key()
    token = KeyRing([old_key]).encrypt("secret")
    with pytest.raises(DecryptionError, match=key_id(base64.b64decode(old_key))) as caught:
        key_ring().decrypt(token)
    assert old_key not in str(caught.value)


def test_any_key_in_the_ring_decrypts_and_the_first_encrypts():
    a, b = new_key(), new_key()
    under_a = KeyRing([a]).encrypt("secret")
    ring = KeyRing([b, a])
    assert ring.decrypt(under_a) == "secret"
    assert KeyRing.token_key_id(ring.encrypt("secret")) == key_id(base64.b64decode(b))


SIXTEEN_BYTES = base64.b64encode(b"0123456789abcdef").decode()
NOT_BASE64 = "this-is-not-base64-at-all!!"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([NOT_BASE64], "entry 1 is not valid base64"),
        ([SIXTEEN_BYTES], "entry 1 decodes to 16 bytes; AES-256 needs 32"),
        (["abc", SIXTEEN_BYTES], "entry 1 is not valid base64"),
        ([], "ENCRYPTION_KEYS is empty"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(keys, message):
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        KeyRing(keys)
    for key in keys:
        assert key not in str(caught.value)


def test_second_malformed_key_is_named_by_position():
    with pytest.raises(ImproperlyConfigured, match="entry 2 decodes to 16 bytes") as caught:
        KeyRing([new_key(), SIXTEEN_BYTES])
    assert SIXTEEN_BYTES not in str(caught.value)


def test_duplicate_key_is_refused_without_echoing_it():
    key = new_key()
    with pytest.raises(ImproperlyConfigured, match="same key twice") as caught:
        KeyRing([key, key])
    assert key not in str(caught.value)


def test_startup_fails_on_a_malformed_key_in_settings():
    with override_settings(ENCRYPTION_KEYS=[SIXTEEN_BYTES]):
        with pytest.raises(ImproperlyConfigured, match="needs 32") as caught:
            apps.get_app_config("integrations").ready()
    assert SIXTEEN_BYTES not in str(caught.value)


def test_ring_follows_overridden_settings():
    key = new_key()
    with override_settings(ENCRYPTION_KEYS=[key]):
        assert key_ring().primary_id == key_id(base64.b64decode(key))
    assert key_ring().primary_id != key_id(base64.b64decode(key))


# Lone surrogates cannot be encoded as UTF-8, and no database column could hold them either.
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)


@given(_text)
def test_text_round_trips_through_the_ring(value):
    ring = key_ring()
    token = ring.encrypt(value)
    assert ring.decrypt(token) == value
    assert KeyRing.token_key_id(token) == ring.primary_id


@given(_json)
def test_json_round_trips_through_the_field(value):
    field = EncryptedJSONField()
    stored = field.get_prep_value(value)
    assert stored is None if value is None else is_encrypted(stored)  # None is SQL NULL, not a secret
    assert field.from_db_value(stored, None, connection) == value


def test_dumpdata_writes_credentials_only_as_ciphertext(integration):
    field = Integration._meta.get_field("credentials")
    exported = field.value_to_string(integration)
    assert is_encrypted(exported) and json.dumps(CREDENTIALS) not in exported
    assert field.to_python(exported) == CREDENTIALS
