"""The master key of personal data (the key-encryption key): reading it
from the settings, checking it against the database at start-up, rotating it.

The data keys of ``eventstore.personal`` are stored wrapped (AES-256-GCM) by
the master key, ``PII_MASTER_KEY``. A known plaintext sealed under it in
``personal_data_master_check`` lets start-up refuse a wrong key before any
read could go astray. Rotation re-wraps the data keys; events are untouched.
"""

import base64
import binascii
import hashlib
import hmac
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from eventstore.errors import MasterKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
_CHECK_PLAINTEXT = b"personal-data master key check v1"

log = logging.getLogger(__name__)


# -- the master key (key-encryption key) --------------------------------------------------


def parse_master_key(text: str, name: str = "PII_MASTER_KEY") -> bytes:
    """The 32 bytes a base64 (standard or URL-safe) master key stands for."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"{name} must be base64 of {KEY_BYTES} random bytes; generate one with: "
            'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'
        )
    return raw


def new_master_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def master_key_id(key: bytes) -> str:
    """A short, stable name for a master key (not a way to recover it)."""
    return hmac.new(key, b"personal-data master key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The current master key (wraps new data keys) and previous ones (still
    unwrap data keys not yet re-wrapped: a rolling rotation)."""

    current_id: str
    keys: Mapping[str, AESGCM]

    @classmethod
    def of(cls, current: bytes, previous: Iterable[bytes] = ()) -> "Keyring":
        keys = {master_key_id(k): AESGCM(k) for k in previous}
        keys[master_key_id(current)] = AESGCM(current)
        return cls(master_key_id(current), keys)

    def wrap(self, key_id: str, data_key: bytes) -> tuple[str, str]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.current_id].encrypt(nonce, data_key, key_id.encode())
        return self.current_id, _b64(nonce + sealed)

    def unwrap(self, kek_id: str, key_id: str, wrapped: str) -> bytes:
        aead = self.keys.get(kek_id)
        if aead is None:
            raise MasterKeyError(
                f"data key {key_id} is wrapped by master key {kek_id}, which is neither PII_MASTER_KEY "
                "nor in PII_MASTER_KEY_PREVIOUS: set the key this database was last rotated to"
            )
        raw = _unb64(wrapped)
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise MasterKeyError(
                f"data key {key_id} does not unwrap with master key {kek_id}: the key row was altered"
            ) from None


_keyring_cache: tuple[tuple, Keyring] | None = None


def keyring() -> Keyring:
    """The keyring the settings name (``PII_MASTER_KEY``, and any
    ``PII_MASTER_KEY_PREVIOUS``); MasterKeyError when there is none."""
    global _keyring_cache
    current = getattr(settings, "PII_MASTER_KEY", "") or ""
    previous = tuple(getattr(settings, "PII_MASTER_KEY_PREVIOUS", ()) or ())
    source = (current, previous)
    if _keyring_cache is not None and _keyring_cache[0] == source:
        return _keyring_cache[1]
    if not current:
        raise MasterKeyError(
            "PII_MASTER_KEY is not set (and there is no var/pii_master_key): personal data cannot be "
            "encrypted or read. Set PII_MASTER_KEY to the base64 master key this database uses, or, "
            "for a new local database, run `python manage.py init_pii_master_key` (make run does)."
        )
    ring = Keyring.of(
        parse_master_key(current),
        [parse_master_key(p, "PII_MASTER_KEY_PREVIOUS") for p in previous if p],
    )
    _keyring_cache = (source, ring)
    return ring


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


# -- the master key check, rotation ----------------------------------------------------


def _table_exists(using: str, table: str) -> bool:
    return table in connections[using].introspection.table_names()


def ensure_master_check(using: str = "default", ring: Keyring | None = None) -> None:
    """Store the known plaintext sealed under the current master key, if the
    database has none yet (its first personal data)."""
    ring = ring or keyring()
    kek_id, sealed = ring.wrap("check", _CHECK_PLAINTEXT)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "INSERT INTO personal_data_master_check (id, kek_id, check_value, created_at)"
            " VALUES (1, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [kek_id, sealed, timezone.now()],
        )


def verify_master_key(using: str = "default", ring: Keyring | None = None) -> None:
    """Fail loudly (MasterKeyError) unless the configured master key is the
    one this database's personal data keys are wrapped with. A database with
    no check value yet gets one under the current key."""
    ring = ring or keyring()
    if not _table_exists(using, "personal_data_master_check"):
        return  # not migrated yet: nothing is encrypted
    ensure_master_check(using, ring)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT kek_id, check_value FROM personal_data_master_check WHERE id = 1")
        kek_id, sealed = cursor.fetchone()
    try:
        plain = ring.unwrap(kek_id, "check", sealed)
    except MasterKeyError:
        plain = None
    if plain != _CHECK_PLAINTEXT:
        raise MasterKeyError(
            f"PII_MASTER_KEY is not the master key of this database (its personal data keys are wrapped "
            f"by master key {kek_id}; the configured key is {ring.current_id}). Refusing to start: with "
            "the wrong key no personal data could be read. Set PII_MASTER_KEY to the right key (or add "
            "the old one to PII_MASTER_KEY_PREVIOUS during a rotation)."
        )


def rotate(new_key: bytes, using: str = "default") -> int:
    """Re-wrap every data key (and the check value) under ``new_key``, in one
    transaction; events are not touched. Returns how many keys it re-wrapped."""
    old = keyring()
    new = Keyring.of(new_key)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if connections[using].vendor == "postgresql":
            cursor.execute("LOCK TABLE personal_data_keys IN SHARE ROW EXCLUSIVE MODE")
        verify_master_key(using)
        cursor.execute("SELECT subject_id, key_id, kek_id, wrapped_key FROM personal_data_keys")
        rows = cursor.fetchall()
        for subject, key_id, kek_id, wrapped in rows:
            new_kek, new_wrapped = new.wrap(key_id, old.unwrap(kek_id, key_id, wrapped))
            cursor.execute(
                "UPDATE personal_data_keys SET kek_id = %s, wrapped_key = %s WHERE subject_id = %s",
                [new_kek, new_wrapped, subject],
            )
        kek_id, sealed = new.wrap("check", _CHECK_PLAINTEXT)
        cursor.execute(
            "UPDATE personal_data_master_check SET kek_id = %s, check_value = %s, rotated_at = %s"
            " WHERE id = 1",
            [kek_id, sealed, timezone.now()],
        )
    return len(rows)


def holds_personal_data(using: str) -> bool:
    if not _table_exists(using, "personal_data_master_check"):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM personal_data_master_check")
        return cursor.fetchone() is not None


def check_at_start_up(using: str = "default") -> None:
    """For servers and workers as they start: raise MasterKeyError (the
    process must not start) when the master key is missing, malformed or
    not this database's. If the database cannot be reached now, start
    anyway: every use of a data key checks the key it is wrapped by."""
    keyring()
    try:
        verify_master_key(using)
    except MasterKeyError:
        raise
    except Exception as exc:  # no database now (down; or a test run that forbids it)
        log.warning("could not check PII_MASTER_KEY against the database: %s", exc)
    finally:
        connections[using].close()


def master_key_check(app_configs=None, **kwargs) -> list:
    """The Django system check (manage.py commands, runserver): an error
    when the master key is wrong, or missing for a database that holds
    personal data; a warning when it is missing for one that does not yet."""
    from django.core import checks

    try:
        keyring()
        verify_master_key()
    except MasterKeyError as exc:
        try:
            needed = holds_personal_data("default")
        except DatabaseError:
            needed = True
        if needed or getattr(settings, "PII_MASTER_KEY", ""):
            return [checks.Error(str(exc), id="eventstore.E001")]
        return [checks.Warning(str(exc), id="eventstore.W001")]
    except DatabaseError:
        return []  # no database to compare with (e.g. collectstatic at build time)
    return []
