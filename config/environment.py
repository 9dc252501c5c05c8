"""Settings read from the environment, strictly: a value that cannot mean
what its variable means stops the process at start with one line naming the
variable and the value. django-environ reads ``INVENTORY_RESERVATION=ture``
as false, and ``CONN_MAX_AGE=abc`` fails with a bare ValueError that names
neither."""

import re

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})
# What Django REST framework's throttles read: a count per second, minute, hour or day.
_RATE = re.compile(r"^[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)$")


class Env(environ.Env):
    def bool(self, var, default=environ.Env.NOTSET):
        if var not in self.ENVIRON:
            return super().bool(var, default=default)
        value = self.ENVIRON[var].strip().lower()
        if value not in _TRUE | _FALSE:
            raise ImproperlyConfigured(
                f"{var} must be true or false (or yes/no, on/off, 1/0), not {self.ENVIRON[var]!r}"
            )
        return value in _TRUE

    def int(self, var, default=environ.Env.NOTSET, minimum: int | None = None):
        return self._number(super().int, "a whole number", var, default, minimum)

    def float(self, var, default=environ.Env.NOTSET, minimum: float | None = None):
        return self._number(super().float, "a number", var, default, minimum)

    def _number(self, read, kind: str, var, default, minimum):
        try:
            value = read(var, default=default)
        except ValueError:
            raise ImproperlyConfigured(f"{var} must be {kind}, not {self.ENVIRON[var]!r}") from None
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{var} must be at least {minimum:g}, not {value:g}")
        return value

    def choice(self, var, choices: tuple[str, ...], default: str) -> str:
        value = self.str(var, default=default)
        if value not in choices:
            raise ImproperlyConfigured(f"{var} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def rate(self, var, default: str) -> str:
        """A throttle rate such as ``30/min``."""
        value = self.str(var, default=default).strip()
        if not _RATE.fullmatch(value):
            raise ImproperlyConfigured(f"{var} must be a count per time, like 30/min or 5/s, not {value!r}")
        return value
