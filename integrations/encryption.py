"""Field encryption at rest: AES-256-GCM with a key ring.

`ENCRYPTION_KEYS` lists base64 32-byte keys; the first encrypts, all decrypt.
A stored value reads `enc1:<key id>:<base64(nonce || ciphertext+tag)>`, where the
key id is the first 8 hex digits of the key's SHA-256, so every ciphertext names
the key that can open it and rotation can tell which rows still need work.

What can go wrong: a value encrypted under a key that has since left the ring
cannot be read; `decrypt` raises `DecryptionError` naming the key id (never the
value) rather than returning garbage. A model field loading such a value (a
process still on the old ring while `rotate_encryption_keys` runs, or a key
dropped too early) gives an `UnreadableSecret` in its place instead of raising,
so one row cannot break a list: the row loads, says which key it needs, and
refuses to be used as a secret (`str()` raises). A value that fails
authentication under a key the ring holds is tampering, and still raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from config.errors import SecretsUnreadable

TOKEN_PREFIX = "enc1"
_NONCE_BYTES = 12
_AAD = b"switchyard-field-v1"


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key, or tampered)."""


class UnreadableSecret:
    """Stands in for a stored value whose key is not in this process's ring: the row loads, the value does not.

    Truthy (a value is stored), never equal to a string, and never usable as one: `str()` and formatting raise
    DecryptionError, so it cannot reach a provider, a log or a page as if it were the secret. Saving the row
    writes the original ciphertext back unchanged. `key_id` names the key that can open it.
    """

    __slots__ = ("token", "key_id")

    def __init__(self, token: str, key_id: str):
        self.token, self.key_id = token, key_id

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableSecret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __str__(self) -> str:
        raise DecryptionError(f"Value was encrypted with key {self.key_id}, which is not in ENCRYPTION_KEYS.")

    def __format__(self, spec: str) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"<UnreadableSecret under key {self.key_id}>"


def unreadable_secrets(instance: models.Model) -> dict[str, str]:
    """{field name: key id} of the instance's encrypted fields that loaded as UnreadableSecret (none: {})."""
    meta = getattr(instance, "_meta", None)
    if meta is None:
        return {}
    return {f.name: value.key_id for f in meta.concrete_fields
            if isinstance(f, ENCRYPTED_FIELD_TYPES)
            and isinstance(value := f.value_from_object(instance), UnreadableSecret)}


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class KeyRing:
    def __init__(self, encoded_keys: Sequence[str]):
        keys = []
        for position, encoded in enumerate(encoded_keys, start=1):
            try:
                raw = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ImproperlyConfigured(f"ENCRYPTION_KEYS entry {position} is not valid base64.") from None
            if len(raw) != 32:
                raise ImproperlyConfigured(
                    f"ENCRYPTION_KEYS entry {position} decodes to {len(raw)} bytes; AES-256 needs 32."
                )
            keys.append(raw)
        if not keys:
            raise ImproperlyConfigured("ENCRYPTION_KEYS is empty: give at least one base64 32-byte key.")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self.primary_id = key_id(keys[0])
        if len(self._keys) != len(keys):
            raise ImproperlyConfigured("ENCRYPTION_KEYS lists the same key twice.")

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self.primary_id].encrypt(nonce, plaintext.encode("utf-8"), _AAD)
        return f"{TOKEN_PREFIX}:{self.primary_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        try:
            prefix, kid, payload = token.split(":", 2)
        except ValueError:
            raise DecryptionError("Value is not an encrypted token.") from None
        if prefix != TOKEN_PREFIX:
            raise DecryptionError("Value is not an encrypted token.")
        cipher = self._keys.get(kid)
        if cipher is None:
            raise DecryptionError(f"Value was encrypted with key {kid}, which is not in ENCRYPTION_KEYS.")
        try:
            blob = base64.b64decode(payload)
            return cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
            raise DecryptionError(f"Value under key {kid} failed authentication.") from None

    @staticmethod
    def token_key_id(token: str) -> str | None:
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 and parts[0] == TOKEN_PREFIX else None


@lru_cache(maxsize=8)
def _ring_for(keys: tuple[str, ...]) -> KeyRing:
    return KeyRing(keys)


def key_ring() -> KeyRing:
    """The ring from settings (cached per distinct key list, so tests can override it)."""
    return _ring_for(tuple(settings.ENCRYPTION_KEYS))


def is_encrypted(value: str | None) -> bool:
    return bool(value) and KeyRing.token_key_id(value) is not None


def _open_exported(token: str) -> str:
    """The plaintext of a token read back from an export (loaddata); a token under an unknown key is invalid."""
    try:
        return key_ring().decrypt(token)
    except DecryptionError as exc:
        raise DjangoValidationError(str(exc)) from None


def check_readable(instance: models.Model) -> None:
    """Raise SecretsUnreadable (503, naming the key ids) when any encrypted field of `instance` is unreadable."""
    unreadable = unreadable_secrets(instance)
    if unreadable:
        raise SecretsUnreadable.for_fields(unreadable, key_ring().key_ids)


def _load(token: str) -> str | UnreadableSecret:
    """Decrypt a stored token; one under a key this ring lacks becomes an UnreadableSecret (tampering raises)."""
    ring = key_ring()
    kid = KeyRing.token_key_id(token)
    if kid is not None and kid not in ring.key_ids:
        return UnreadableSecret(token, kid)
    return ring.decrypt(token)


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python code sees the plain string. Empty stays empty.

    Serialization (dumpdata, `manage.py backup`) writes a fresh ciphertext, never
    the plaintext, and deserialization (loaddata) opens it again, so a backup is
    as safe as the database and restores with the same key ring.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return _load(value)

    def to_python(self, value):
        if isinstance(value, str) and is_encrypted(value):
            return _open_exported(value)
        return value

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value.token  # unchanged: only a ring holding its key can rewrite it
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return key_ring().encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted; Python code sees dicts and lists. None and {} stay readable as such."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {} if value == "" else None
        opened = _load(value)
        return opened if isinstance(opened, UnreadableSecret) else json.loads(opened)

    def to_python(self, value):
        if isinstance(value, str) and is_encrypted(value):
            return json.loads(_open_exported(value))
        if isinstance(value, str) and value:
            return json.loads(value)
        return value

    def get_prep_value(self, value: Any):
        if value is None:
            return None
        if isinstance(value, UnreadableSecret):
            return value.token
        return key_ring().encrypt(json.dumps(value, sort_keys=True, separators=(",", ":")))

    def value_to_string(self, obj):  # exports carry ciphertext, never the clear value (see EncryptedTextField)
        return self.get_prep_value(self.value_from_object(obj))


ENCRYPTED_FIELD_TYPES = (EncryptedTextField, EncryptedJSONField)
