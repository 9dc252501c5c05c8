"""Text a REST body carries, checked by the domain's text rules as it is
read: every field that breaks them is reported at once, under its own path
(``items[1].price_override_reason``, ``contact.name``), and before the
command looks at the order (a 400, not the 409 its state would give)."""

from collections.abc import Callable

from rest_framework import serializers

from config.serializers import StrictCharField
from orders.domain import rules
from orders.domain.errors import InvalidOrderDataError


def _rule(check: Callable[[str], object]) -> Callable[[str | None], None]:
    def validate(value: str | None) -> None:
        if value:
            try:
                check(value)
            except InvalidOrderDataError as exc:
                raise serializers.ValidationError(exc.reason) from None

    return validate


_ANY_LENGTH = 1 << 30


def text_field(max_length: int, *, lines: bool = False, personal: bool = False, **kwargs) -> StrictCharField:
    """A string of at most ``max_length`` characters (stripped) that keeps
    the text rules: one line unless ``lines``; ``personal`` text (a name, an
    address) also may not read as the erased marker."""
    # The field checks the length as sent; the rules, the rest.
    if personal:
        rule = _rule(lambda v: rules.check_personal_text("", v, _ANY_LENGTH, required=False))
    else:
        rule = _rule(lambda v: rules.check_text("", v, _ANY_LENGTH, required=False, lines=lines))
    return StrictCharField(max_length=max_length, validators=[rule], **kwargs)


# The domain's rule for an email, after the edge's own (Django's EmailValidator).
email_rule = _rule(rules.check_email)
