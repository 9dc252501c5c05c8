"""Appending events with personal fields in one statement (PostgreSQL).

Sealing needs the subject's data key in this process before the append.
A key found in the database is kept here for a short while
(``PII_KEY_CACHE_SECONDS``, 60 by default; 0 turns it off), so a returning
customer's order costs no lookup; the statement that appends the events
it sealed also checks that the key still exists, holding it (``FOR KEY
SHARE``) until it commits. So a subject forgotten by any process is never
written to under its old key: the append finds the key gone, drops it
from this cache and seals again under a new one; and a forget that comes
while the append runs waits for it, then erases its events with the rest.
A subject without a key gets a new one, inserted by the same statement as
the events it encrypts, so no key exists without its events and no
transaction is needed. Reads never use this cache: every read looks the
keys up in the database (``PersonalData.reveal_many``).
"""

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connections, transaction

from eventstore.errors import ConcurrencyError
from eventstore.master_key import verify_master_key

_MAX_CACHED = 10_000
_cache: "OrderedDict[tuple[str, str, str], tuple[str, bytes, float]]" = OrderedDict()
_lock = threading.Lock()  # a web process serves requests in several threads


def _ttl() -> float:
    return float(getattr(settings, "PII_KEY_CACHE_SECONDS", 60))


def _slot(personal, subject: str) -> tuple[str, str, str]:
    return (personal.using, connections[personal.using].settings_dict["NAME"], subject)


def forget_cached(personal, subject: str) -> None:
    """Drop the subject's key from this process's cache (it was forgotten)."""
    slot = _slot(personal, subject)
    with _lock:
        _cache.pop(slot, None)


class KeysChanged(Exception):
    """A key an append sealed with was forgotten, or a subject it made a
    key for got one meanwhile: nothing was written; seal again."""


@dataclass
class Keys:
    """The data keys one append seals with: ``keys`` subject -> (key id,
    key); ``new`` rows the statement inserts (subject, key id, master key
    id, wrapped key); ``held`` key ids it checks still exist."""

    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    new: list[tuple[str, str, str, str]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    # The master keys this process holds: new keys go in only while the
    # database's is one of them (not after a rotation this process missed).
    masters: list[str] = field(default_factory=list)


def plan(personal, subjects: Iterable[str]) -> Keys:
    """The keys to seal the subjects' values with: cached, else looked up
    (one query), else new (inserted by the append)."""
    out, missing, now = Keys(), [], time.monotonic()
    for subject in dict.fromkeys(subjects):
        cached = _cache.get(_slot(personal, subject))
        if cached is not None and cached[2] > now:
            out.keys[subject] = cached[:2]
            out.held.append(cached[0])
        else:
            missing.append(subject)
    if missing:
        rows = personal._rows(
            "SELECT subject_id, key_id, kek_id, wrapped_key FROM personal_data_keys"
            " WHERE subject_id = ANY(%s)",
            [missing],
        )
        ttl = _ttl()
        for subject, key_id, kek_id, wrapped in rows:
            data_key = personal.ring.unwrap(kek_id, key_id, wrapped)
            out.keys[subject] = (key_id, data_key)
            out.held.append(key_id)
            if ttl > 0:
                _remember(personal, subject, key_id, data_key, now + ttl)
        for subject in missing:
            if subject not in out.keys:
                personal._verify_once()
                key_id, data_key = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
                kek_id, wrapped = personal.ring.wrap(key_id, data_key)
                out.keys[subject] = (key_id, data_key)
                out.new.append((subject, key_id, kek_id, wrapped))
                out.masters = sorted(personal.ring.keys)
    return out


def _remember(personal, subject: str, key_id: str, data_key: bytes, expires: float) -> None:
    slot = _slot(personal, subject)
    with _lock:
        _cache[slot] = (key_id, data_key, expires)
        _cache.move_to_end(slot)
        while len(_cache) > _MAX_CACHED:
            _cache.popitem(last=False)


def appended(personal, keys: Keys) -> None:
    """The append went through: its new keys may be used again from here."""
    ttl = _ttl()
    if ttl > 0:
        for subject, key_id, _, _ in keys.new:
            _remember(personal, subject, key_id, keys.keys[subject][1], time.monotonic() + ttl)


def still_valid(personal, keys: Keys) -> bool:
    """After an append that wrote nothing: whether the keys it sealed with
    were still right (if not, they are dropped from the cache: seal again)."""
    [(held, taken, master)] = personal._rows(
        "SELECT (SELECT COUNT(*) FROM personal_data_keys WHERE key_id = ANY(%s)),"
        " (SELECT COUNT(*) FROM personal_data_keys WHERE subject_id = ANY(%s)),"
        " (SELECT kek_id FROM personal_data_master_check WHERE id = 1)",
        [keys.held, [subject for subject, *_ in keys.new]],
    )
    if keys.new and master not in keys.masters:
        verify_master_key(personal.using, personal.ring)  # MasterKeyError, saying which
        return False  # the check is (again) under this process's key: seal again
    if held == len(keys.held) and taken == 0:
        return True
    for subject in keys.keys:
        forget_cached(personal, subject)
    return False


def guard(check: str, check_params: list, keys: Keys, created_at) -> tuple[str, list, str, list]:
    """What makes an append statement (``WITH <v> INSERT ... WHERE <check>
    RETURNING ...``) also insert ``keys.new`` and hold ``keys.held``: a CTE
    to put first and its parameters, and a condition to add to the
    insert's WHERE and its parameters. ``check`` is the stream's version
    check (with ``check_params``): the keys go in only with the events."""
    held = " AND EXISTS (SELECT 1 FROM personal_data_keys WHERE key_id = %s FOR KEY SHARE)" * len(keys.held)
    cte, cte_params = "", []
    if keys.new:
        values = ", ".join(["(%s, %s, %s, %s, %s::timestamptz)"] * len(keys.new))
        cte = (
            "k AS (INSERT INTO personal_data_keys (subject_id, key_id, kek_id, wrapped_key, created_at)"
            f" SELECT n.* FROM (VALUES {values}) AS n (subject_id, key_id, kek_id, wrapped_key, created_at)"
            f"{check}{held} AND EXISTS (SELECT 1 FROM personal_data_master_check"
            " WHERE id = 1 AND kek_id = ANY(%s)) ON CONFLICT (subject_id) DO NOTHING RETURNING 1), "
        )
        for row in keys.new:
            cte_params += [*row, created_at]
        cte_params += [*check_params, *keys.held, keys.masters]
    condition = held + (f" AND (SELECT COUNT(*) FROM k) = {len(keys.new)}" if keys.new else "")
    return cte, cte_params, condition, list(keys.held)


def append_statement(dialect, aggregate_type, aggregate_id, rows, expected_version, created_at, keys: Keys):
    """The PostgreSQL dialect's append statement (its multi-row shape) that
    also inserts the data keys ``keys.new`` and holds ``keys.held``: nothing
    is written unless the stream is at ``expected_version`` and every key is right."""
    agg = dialect.param_uuid(aggregate_id)
    check = dialect.check.format(agg="%s", expected="%s")
    cte, cte_params, condition, condition_params = guard(check, [agg, expected_version], keys, created_at)
    query = dialect._insert_many.format(rows=", ".join([dialect.row_placeholder] * len(rows)))
    query = query.replace(" RETURNING position", f"{condition} RETURNING position", 1)
    query = query.replace("WITH v ", f"WITH {cte}v ", 1)
    params: list = list(cte_params)
    dumps = orjson.dumps
    for event_id, event_type, schema_version, data, meta, version in rows:
        params += (
            dialect.param_event_id(event_id), event_type, schema_version,
            dumps(data).decode(), dumps(meta).decode(), version,
        )  # fmt: skip
    params += (aggregate_type, agg, created_at, agg, expected_version, *condition_params)
    return query, params


def append(store, aggregate_type, aggregate_id, events, expected_version):
    """``store.append`` of events some of which have personal fields."""
    registry = store.registry
    subjects = [
        str(e.data.get(spec.subject))
        for e in events
        if e.event_type in registry.personal_types and (spec := registry.personal_fields(e.event_type))
    ]
    for _ in range(3):
        keys = plan(store.personal, subjects)
        if len(keys.new) > 1:
            # ON CONFLICT could let one new key in without its events: the
            # keys and events in one transaction instead (rare: one customer per order).
            with transaction.atomic(using=store.using):
                return store._append(aggregate_type, aggregate_id, events, expected_version)
        try:
            return store._append(aggregate_type, aggregate_id, events, expected_version, keys)
        except KeysChanged:
            continue  # a key was forgotten, or made by another writer, meanwhile: seal again
    raise ConcurrencyError(aggregate_id, expected_version, expected_version)
