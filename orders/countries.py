"""Countries a shipping address may name: ISO 3166-1 alpha-2 codes, from the
maintained list in pycountry (the domain checks only their shape)."""

from functools import cache

import pycountry


@cache
def country_names() -> dict[str, str]:
    """Code -> name, sorted by name."""
    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    return dict(sorted(names.items(), key=lambda item: item[1]))


def is_country(code: object) -> bool:
    return isinstance(code, str) and code in country_names()


def country_name(code: str) -> str:
    return country_names().get(code, code)
