"""Personal data on an immutable log: crypto-shredding.

Events are never changed or deleted, so personal data in them is encrypted
with a key of its own per *subject* (e.g. a customer), and erasing a subject
deletes that key: its ciphertexts stay in the log and can never be read
again. Generic: it knows subjects, keys and values, nothing of orders.

- Data keys: AES-256-GCM keys, one per subject, in ``personal_data_keys``,
  each stored wrapped (encrypted) by the key-encryption key, the master key
  (``PII_MASTER_KEY``). Deleting a subject's row is the erasure.
- A value is stored as an envelope ``{"$pii": 1, "kid", "n", "ct"}``: the
  data key's id, the nonce and the ciphertext of its JSON, with associated
  data that binds it to its place (an event's id), so it cannot be moved.
- Reading replaces envelopes with their values, or with ``ERASED`` when the
  key is gone. No data key outlives the read that needed it (no cache), so
  a forgotten subject stops decrypting in every process at once.
- The master key is checked at start-up against a known plaintext sealed in
  ``personal_data_master_check``: a wrong or missing key fails loudly, never
  with reads that look erased or corrupt.
"""

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connections
from django.utils import timezone

from eventstore import sealing
from eventstore.errors import MasterKeyError, PersonalDataError
from eventstore.master_key import NONCE_BYTES, Keyring, keyring, verify_master_key

ERASED = "[erased]"
ENVELOPE = "$pii"
# The subject whose key makes lookup hashes (an HMAC of e.g. a lowercased
# email, so a read model can find rows by it without holding it). Never
# forgotten; "$" keeps it apart from any real subject id.
LOOKUP_SUBJECT = "$lookup"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and value.get(ENVELOPE) == 1


def has_envelopes(data: Mapping[str, Any]) -> bool:
    return any(is_envelope(v) for v in data.values())


_verified: set[tuple] = set()


# -- data keys -------------------------------------------------------------------------


class PersonalData:
    """Data keys and envelopes on one database alias."""

    def __init__(self, using: str = "default", ring: Keyring | None = None):
        self.using = using
        self._ring = ring
        self._lookup_key: bytes | None = None  # never forgotten: kept for this object's life

    @property
    def ring(self) -> Keyring:
        return self._ring or keyring()

    def _rows(self, query: str, params: list) -> list[tuple]:
        with connections[self.using].cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def data_key(self, subject: str) -> tuple[str, bytes]:
        """The subject's (key id, data key), made on first use."""
        rows = self._key_rows(subject)
        if not rows:
            self._verify_once()
            key_id, data_key = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
            kek_id, wrapped = self.ring.wrap(key_id, data_key)
            for verified in (False, True):
                if self._insert_key(subject, key_id, kek_id, wrapped):
                    return key_id, data_key
                rows = self._key_rows(subject)  # another writer made it first, or the master key is not ours
                if rows or verified:
                    break
                verify_master_key(self.using, self.ring)  # MasterKeyError, saying which; or try again
            if not rows:
                raise MasterKeyError("the master key of this database changed; restart with the new one")
        key_id, kek_id, wrapped = rows[0]
        return key_id, self.ring.unwrap(kek_id, key_id, wrapped)

    def _key_rows(self, subject: str) -> list[tuple]:
        return self._rows(
            "SELECT key_id, kek_id, wrapped_key FROM personal_data_keys WHERE subject_id = %s", [subject]
        )

    def _insert_key(self, subject: str, key_id: str, kek_id: str, wrapped: str) -> bool:
        """Store a new data key, only while this database's master key is one
        this process holds: a process left on the old key through a rotation
        (which locks this table) must not seal a key the new one cannot open."""
        known = sorted(self.ring.keys)
        return bool(
            self._rows(
                "INSERT INTO personal_data_keys (subject_id, key_id, kek_id, wrapped_key, created_at)"
                " SELECT %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM personal_data_master_check"
                f" WHERE id = 1 AND kek_id IN ({', '.join(['%s'] * len(known))}))"
                " ON CONFLICT (subject_id) DO NOTHING RETURNING key_id",
                [subject, key_id, kek_id, wrapped, timezone.now(), *known],
            )
        )

    def _verify_once(self) -> None:
        # Before wrapping a new data key: never under a master key that is
        # not this database's (its data keys would be unreadable mixed with them).
        token = (self.using, connections[self.using].settings_dict["NAME"], self.ring.current_id)
        if token not in _verified:
            verify_master_key(self.using, self.ring)
            _verified.add(token)

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """The data keys that still exist among ``key_ids`` (forgotten ones are absent)."""
        ids = sorted(set(key_ids))
        found: dict[str, bytes] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._rows(
                "SELECT key_id, kek_id, wrapped_key FROM personal_data_keys"
                f" WHERE key_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for key_id, kek_id, wrapped in rows:
                found[key_id] = self.ring.unwrap(kek_id, key_id, wrapped)
        return found

    def has_key(self, subject: str) -> bool:
        return bool(self._rows("SELECT 1 FROM personal_data_keys WHERE subject_id = %s", [subject]))

    def forget(self, subject: str) -> bool:
        """Erase the subject: delete its data key. True if there was one."""
        if subject == LOOKUP_SUBJECT:
            raise ValueError("the lookup key is not a subject's")
        sealing.forget_cached(self, subject)
        with connections[self.using].cursor() as cursor:
            cursor.execute("DELETE FROM personal_data_keys WHERE subject_id = %s", [subject])
            return cursor.rowcount > 0

    def key_created_at(self, subject: str):
        rows = self._rows("SELECT created_at FROM personal_data_keys WHERE subject_id = %s", [subject])
        return rows[0][0] if rows else None

    # -- values ------------------------------------------------------------------------

    def seal(
        self, subject: str, values: Mapping[str, Any], aad: bytes, keys: Mapping | None = None
    ) -> dict[str, Any]:
        """``values`` with each one that is not None replaced by its envelope,
        under the subject's key (from ``keys``, subject -> (key id, key), if given)."""
        if all(value is None for value in values.values()):
            return dict(values)  # nothing personal: no key needed
        return seal_values(*(keys[subject] if keys else self.data_key(subject)), values, aad)

    def reveal_many(
        self, items: list[tuple[Mapping[str, Any], bytes]], known: Mapping[str, bytes] | None = None
    ) -> list[dict[str, Any]]:
        """Each (data, associated data) with its envelopes opened: the value,
        or ERASED when its key is gone. One query for the whole batch, none
        when the keys were read with the data: ``known`` (key id -> key,
        every key of theirs that exists)."""
        if known is None:
            key_ids = {v["kid"] for data, _ in items for v in data.values() if is_envelope(v)}
            known = self.keys_by_id(key_ids) if key_ids else {}
        keys = known
        aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        return [_open(data, aad, aeads) for data, aad in items]

    def reveal(self, data: Mapping[str, Any], aad: bytes) -> dict[str, Any]:
        return self.reveal_many([(data, aad)])[0]

    def lookup_hash(self, text: str, *, create: bool = True) -> str | None:
        """A keyed hash of ``text`` (HMAC-SHA256 under a key of its own that the
        master key wraps like the data keys): rows can be found by it without
        holding the text. Callers normalise first (e.g. lowercase an email).
        None when the key does not exist yet and ``create`` is False (nothing
        was ever hashed: a lookup finds nothing)."""
        if self._lookup_key is None:
            if not create and not self.has_key(LOOKUP_SUBJECT):
                return None
            self._lookup_key = self.data_key(LOOKUP_SUBJECT)[1]
        return hmac.new(self._lookup_key, text.encode(), hashlib.sha256).hexdigest()[:40]


def seal_values(key_id: str, data_key: bytes, values: Mapping[str, Any], aad: bytes) -> dict[str, Any]:
    """``values`` with each one that is not None encrypted under ``data_key``
    (AES-256-GCM, a fresh nonce each) as an envelope naming ``key_id``."""
    aead = AESGCM(data_key)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            out[name] = None
            continue
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = aead.encrypt(nonce, orjson.dumps(value), aad)
        out[name] = {ENVELOPE: 1, "kid": key_id, "n": _b64(nonce), "ct": _b64(ciphertext)}
    return out


def open_values(data: Mapping[str, Any], aad: bytes, keys: Mapping[str, bytes]) -> dict[str, Any]:
    """``data`` with its envelopes opened with ``keys`` (key id -> data key):
    ERASED where the key is absent; PersonalDataError where a ciphertext or
    its associated data was altered."""
    return _open(data, aad, {kid: AESGCM(key) for kid, key in keys.items()})


def _open(data: Mapping[str, Any], aad: bytes, aeads: dict[str, AESGCM]) -> dict[str, Any]:
    out = dict(data)
    for name, value in data.items():
        if not is_envelope(value):
            continue
        aead = aeads.get(value["kid"])
        if aead is None:
            out[name] = ERASED
            continue
        try:
            out[name] = orjson.loads(aead.decrypt(_unb64(value["n"]), _unb64(value["ct"]), aad))
        except (InvalidTag, binascii.Error, ValueError, KeyError, TypeError):
            raise PersonalDataError(
                f"personal field {name!r} does not decrypt: altered, or moved from where it was written"
            ) from None
    return out


# -- events --------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalFields:
    """Which fields of an event type are personal, and which field names
    their subject (whose key encrypts them). From its JSON Schema:
    ``"x-personal-subject": "<field>"`` on the schema, ``"x-personal": true``
    on each personal property."""

    subject: str
    fields: frozenset[str]

    @classmethod
    def of_schema(cls, event_type: str, schema: Mapping[str, Any]) -> "PersonalFields | None":
        properties = schema.get("properties", {})
        fields = frozenset(name for name, prop in properties.items() if prop.get("x-personal"))
        subject = schema.get("x-personal-subject")
        if not fields and subject is None:
            return None
        if not fields or subject not in properties or subject not in schema.get("required", ()):
            raise ValueError(
                f"{event_type}: personal fields need an x-personal-subject naming a required property"
            )
        if subject in fields:
            raise ValueError(f"{event_type}: the subject field {subject!r} cannot itself be personal")
        return cls(subject, fields)


def event_aad(event_id: uuid.UUID) -> bytes:
    return event_id.bytes


def seal_event(
    personal: PersonalData, spec: PersonalFields, data: Mapping[str, Any], event_id: uuid.UUID, keys=None
) -> dict[str, Any]:
    """``data`` with its personal fields encrypted under its subject's key
    (from ``keys``, subject -> (key id, key), if given)."""
    values = {name: data[name] for name in spec.fields if name in data}
    return {**data, **personal.seal(str(data[spec.subject]), values, event_aad(event_id), keys)}


def reveal_events(personal: PersonalData, events: list, personal_types: frozenset[str], known=None) -> list:
    """RecordedEvents with the envelopes of personal event types opened
    (with the keys ``known``, and any others looked up)."""
    indexes = [i for i, e in enumerate(events) if e.event_type in personal_types and has_envelopes(e.data)]
    if not indexes:
        return events
    opened = personal.reveal_many([(events[i].data, event_aad(events[i].event_id)) for i in indexes], known)
    events = list(events)
    for i, data in zip(indexes, opened, strict=True):
        events[i] = events[i]._replace(data=data)
    return events


@dataclass(frozen=True)
class Shown:
    """An event's data as a person sees it: personal fields decrypted (or
    ERASED), which fields are personal, which of them are erased, and an
    error when a ciphertext would not decrypt (it is shown as it is stored)."""

    data: dict[str, Any]
    personal: tuple[str, ...]
    erased: tuple[str, ...]
    error: str | None = None


def show(events: list[tuple[dict[str, Any], uuid.UUID]], using: str = "default") -> list[Shown]:
    """(stored data, event id) of each event, for display (the audit view,
    the admin): never raises for a value it cannot open."""
    personal = PersonalData(using)
    out = []
    wanted = [(data, event_aad(event_id)) for data, event_id in events]
    try:
        opened = personal.reveal_many(wanted)
    except PersonalDataError:
        opened = None
    for i, (data, _) in enumerate(events):
        fields = tuple(name for name, value in data.items() if is_envelope(value))
        if not fields:
            out.append(Shown(data, (), ()))
            continue
        try:
            revealed = opened[i] if opened is not None else personal.reveal(*wanted[i])
        except PersonalDataError as exc:
            out.append(Shown(data, fields, (), str(exc)))
            continue
        erased = tuple(name for name in fields if revealed[name] == ERASED)
        out.append(Shown(revealed, fields, erased))
    return out
