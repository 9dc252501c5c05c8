"""What may be written where people's data must not go: log lines and the
error records of held projections.

- A request is named by its method and path, never its query string (a
  filter by email puts the address there) nor its body.
- A database error is named by its class and primary message, never by
  ``str(exc)``: PostgreSQL adds ``DETAIL: Failing row contains (...)``,
  ``Key (email)=(...)`` and the statement, which hold the row's values, and
  the read models that fail to insert are the ones that hold personal data.

Imports no Django: the log configuration uses it before any app is loaded.
"""

import re
import traceback

_QUERY = re.compile(r"\?[^\s\"']*")


def request_line(request) -> str:
    """``METHOD /path`` of a request, without its query string."""
    return f"{getattr(request, 'method', '') or ''} {getattr(request, 'path', '') or ''}".strip()


def without_query(text: str) -> str:
    """``text`` with any query string (``?...`` up to a space or quote) cut out."""
    return _QUERY.sub("", text)


def message(exc: BaseException) -> str:
    """``str(exc)``, except for a database error (psycopg's, or Django's
    wrapper of one): its primary message only. A data exception (SQLSTATE
    class 22) may quote the value it refused after a colon: cut there."""
    for candidate in (exc, exc.__cause__):
        diag = getattr(candidate, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if primary:
            if (getattr(candidate, "sqlstate", None) or "").startswith("22"):
                primary = primary.split(": ", 1)[0]
            return primary
    return str(exc)


def describe(exc: BaseException) -> str:
    """``Class: message`` (see ``message``)."""
    text = message(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def format_exception(exc: BaseException) -> str:
    """A traceback as ``traceback.format_exception`` writes it (the chain of
    causes included), with each exception shown by ``describe``."""
    chain, seen, current = [], set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        current = chain[index]
        if current.__traceback__ is not None:
            parts += ["Traceback (most recent call last):\n", *traceback.format_tb(current.__traceback__)]
        parts.append(describe(current) + "\n")
        if index:
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if chain[index - 1].__cause__ is current
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
    return "".join(parts)
