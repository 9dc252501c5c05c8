"""Money on pages: integer minor units of the one shop currency
(``SHOP_CURRENCY``), formatted by Babel for the user's locale.

The locale comes from the browser's Accept-Language (set per request by
``MoneyLocaleMiddleware``), else from ``LANGUAGE_CODE``. Only money
formatting follows it: the pages' words stay as they are.
"""

from contextvars import ContextVar
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from django.conf import settings

_locale: ContextVar[str | None] = ContextVar("money_locale", default=None)


def currency() -> str:
    return settings.SHOP_CURRENCY


def precision() -> int:
    """Digits after the decimal point of the shop currency (EUR 2, JPY 0)."""
    return get_currency_precision(currency())


def to_minor(amount: Decimal) -> int:
    """19.99 -> 1999 (in EUR): a typed price in minor units."""
    return int((amount * 10 ** precision()).to_integral_value())


def to_major(minor: int) -> Decimal:
    """1999 -> Decimal("19.99"): a price as people type it."""
    return Decimal(minor).scaleb(-precision())


def _parse(tag: str) -> str | None:
    try:
        return str(Locale.parse(tag.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def locale_from_header(header: str | None) -> str:
    """The first locale Babel knows among the Accept-Language tags, by quality."""
    tags = []
    for n, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and len(tag) <= 35 and quality > 0:
            tags.append((-quality, n, tag))
    for _, _, tag in sorted(tags):
        if found := _parse(tag):
            return found
    return _parse(settings.LANGUAGE_CODE) or "en_US"


def current_locale() -> str:
    return _locale.get() or _parse(settings.LANGUAGE_CODE) or "en_US"


def format_money(minor: int | None, locale: str | None = None) -> str:
    """1999 -> "€19.99" (en_US) or "19,99 €" (de_DE); "" for None."""
    if minor is None or minor == "":
        return ""
    return format_currency(to_major(int(minor)), currency(), locale=locale or current_locale())


def currency_symbol(locale: str | None = None) -> str:
    return get_currency_symbol(currency(), locale=locale or current_locale())


def money_context(request) -> dict:
    """Template context: the shop currency, the locale money is shown in,
    and how a price is typed (its precision and input step)."""
    places = precision()
    return {
        "currency": currency(),
        "money_locale": current_locale(),
        "price_precision": places,
        "price_step": str(Decimal(1).scaleb(-places)),
    }


class MoneyLocaleMiddleware:
    """Money on this request's pages is formatted for its Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _locale.set(locale_from_header(request.headers.get("Accept-Language")))
        try:
            return self.get_response(request)
        finally:
            _locale.reset(token)
