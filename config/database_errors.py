"""One clear line instead of a traceback when the database named by
DATABASE_URL is missing or unreachable (manage.py prints it; `make run`
starts with `manage.py migrate`)."""

import re

from django.conf import settings


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc: BaseException) -> str | None:
    """The line to print for ``exc``, or None when it is not about reaching
    the database (then the traceback is the right answer)."""
    if not any(type(e).__name__ == "OperationalError" for e in _chain(exc)):
        return None
    text = " ".join(str(e) for e in _chain(exc))
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    name, host, port, user = db["NAME"], db.get("HOST") or "localhost", db.get("PORT") or 5432, db.get("USER")
    where = f"{host}:{port}"
    if re.search(r'database "[^"]+" does not exist', text):
        create = f"createdb -h {host} -p {port}" + (f" -U {user}" if user else "") + f" {name}"
        return (
            f"error: the database {name!r} does not exist on {where}; create it with `{create}` "
            "(management commands use the same DATABASE_URL, from the environment or .env)"
        )
    if "Connection refused" in text or "could not translate host name" in text or "timeout expired" in text:
        return f"error: cannot reach PostgreSQL at {where} (DATABASE_URL); is it running?"
    return None
