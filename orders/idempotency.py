"""Idempotency keys: a retried command returns its first result, appends nothing.

A record is written in the same transaction as the command's events, so
either both exist or neither does. Keys are scoped to the user who sent them
and expire after ``IDEMPOTENCY_KEY_TTL`` seconds (24 hours by default);
``python manage.py purge_idempotency_keys`` deletes expired ones.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.errors import IdempotencyKeyReusedError, IdempotencyRaceError
from orders.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def invalid_key_reason(key: str) -> str | None:
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"must be 1 to {MAX_KEY_LENGTH} characters"
    if not key.isascii() or not key.isprintable():
        return "must be printable ASCII"
    return None


def target(request) -> str:
    """What a request acts on, bound into its key's hash: its view and the
    values its path named, so that an order id in capitals is the same
    order (the path as sent, for a request no view resolved)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return request.path
    named = {name: str(value) for name, value in match.kwargs.items()}
    return f"{match.view_name} {orjson.dumps(named, option=orjson.OPT_SORT_KEYS).decode()}"


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str
    key: str
    request_hash: str
    # The same request's hash as keys were bound until 2026-12-07 (to the
    # path as spelled): records written then are replayed too. They expire
    # IDEMPOTENCY_KEY_TTL after that deploy; then this can go.
    earlier_hash: str | None = None

    @classmethod
    def for_request(cls, scope: str, key: str, *parts: Any) -> "IdempotencyKey":
        digest = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return cls(scope, key, digest)

    @classmethod
    def for_http(cls, scope: str, key: str, request, *parts: Any) -> "IdempotencyKey":
        """The key of ``request`` (its method, what it acts on: ``target``)
        and ``parts`` (its body, its If-Match)."""
        earlier = cls.for_request(scope, key, request.method, request.path, *parts).request_hash
        return replace(
            cls.for_request(scope, key, request.method, target(request), *parts), earlier_hash=earlier
        )


def ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "IDEMPOTENCY_KEY_TTL", 24 * 3600))


def lookup(idem: IdempotencyKey) -> dict[str, Any] | None:
    """The stored result for this key, None if unused (or expired), or
    ``IdempotencyKeyReusedError`` if it was used for another request."""
    record = IdempotencyRecord.objects.filter(scope=idem.scope, key=idem.key).first()
    if record is None:
        return None
    if record.expires_at <= timezone.now():
        record.delete()
        return None
    if record.request_hash not in (idem.request_hash, idem.earlier_hash):
        raise IdempotencyKeyReusedError(idem.key)
    return record.result


def remember(idem: IdempotencyKey, command: str, result: dict[str, Any]) -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                scope=idem.scope,
                key=idem.key,
                request_hash=idem.request_hash,
                command=command,
                result=result,
                created_at=now,
                expires_at=now + ttl(),
            )
    except IntegrityError as exc:
        raise IdempotencyRaceError(idem.key) from exc


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
