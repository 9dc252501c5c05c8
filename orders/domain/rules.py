"""Limits every order obeys, and the checks of single values."""

import re
import unicodedata

from orders.domain.errors import InvalidOrderDataError

MAX_LINES = 100
MIN_QUANTITY, MAX_QUANTITY = 1, 10_000
MIN_PRICE_CENTS, MAX_PRICE_CENTS = 0, 10_000_000
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_REASON_LENGTH = 500
MAX_CARRIER_LENGTH = 100
MAX_TRACKING_LENGTH = 100
MAX_NOTE_LENGTH = 2000

_SKU = re.compile(SKU_PATTERN)
_CUSTOMER = re.compile(CUSTOMER_ID_PATTERN)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sku(sku: object) -> str:
    if not isinstance(sku, str) or _SKU.fullmatch(sku) is None:
        raise InvalidOrderDataError("sku", "a short code of letters, digits, '-' and '_' (at most 40)")
    return sku


def check_quantity(quantity: object) -> int:
    if not _is_int(quantity) or not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        raise InvalidOrderDataError("quantity", f"an integer from {MIN_QUANTITY} to {MAX_QUANTITY:,}")
    return quantity


def check_price(price_cents: object) -> int:
    if not _is_int(price_cents) or not MIN_PRICE_CENTS <= price_cents <= MAX_PRICE_CENTS:
        raise InvalidOrderDataError(
            "price_cents", f"an integer number of cents from {MIN_PRICE_CENTS} to {MAX_PRICE_CENTS:,}"
        )
    return price_cents


def is_customer_id(value: object) -> bool:
    # fullmatch: "$" alone would let a trailing newline through.
    return isinstance(value, str) and _CUSTOMER.fullmatch(value) is not None


def check_customer_id(customer_id: object) -> str:
    if not is_customer_id(customer_id):
        raise InvalidOrderDataError(
            "customer_id",
            "letters a-z and A-Z (no accents), digits and '_', '.', ':', '-' "
            "(at most 64, starting with a letter or digit)",
        )
    return customer_id


# Characters no text a person types holds: control characters (a bell, an
# escape), line and paragraph separators, the bidirectional overrides and
# isolates that make a name read differently from what it is, deprecated
# format characters, lone surrogates (no encoding can store them) and
# noncharacters. Line
# breaks and tabs only where text may have several lines (a note).
_CONTROLS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u206a-\u206f\ud800-\udfff"
    "\ufffe\uffff"
)
_NOT_IN_A_LINE = re.compile(f"[{_CONTROLS}\t\n\r]")
_NOT_IN_TEXT = re.compile(f"[{_CONTROLS}]")
# Invisible characters that make text look blank or like other text
# ("LAMP\u00ad-1", a name of Hangul fillers): the soft hyphen, the Hangul
# fillers, Khmer's invisible vowels, the braille blank, word joiners and
# invisible operators, the byte order mark, interlinear annotation marks,
# shorthand and musical format characters, and tag characters outside an emoji flag
# (England's is a black flag, tags, and a cancel tag).
_INVISIBLE = re.compile(
    "[\u00ad\u115f\u1160\u17b4\u17b5\u2060-\u2064\u2800\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f]"
)
_FLAG = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,7}\U000e007f")
# Invisible characters scripts and emoji need, each only where it does
# something (beside ASCII or a space all they could do is hide):
# - between two characters, one of them neither (ASCII nor a space): the
#   joiners (ZWNJ in Persian and Indic words, ZWJ in emoji sequences), the
#   zero-width space (the word break of Thai, Khmer, Lao and Burmese, also
#   before digits or a Latin word), the combining grapheme joiner, and
#   Mongolian's vowel separator and variation selectors;
# - a joiner also right after a virama (Malayalam's chillu ends a word);
# - a variation selector after a character that is neither, or in a keycap (1\ufe0f\u20e3);
# - the bidi marks (LRM, RLM, ALM) in text that has right-to-left letters.
_MODIFIERS = re.compile("[\u034f\u061c\u180b-\u180f\u200b-\u200f\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_BETWEEN = frozenset("\u034f\u180b\u180c\u180d\u180e\u180f\u200b\u200c\u200d")
_JOINERS = frozenset("\u200c\u200d")
_BIDI_MARKS = frozenset("\u061c\u200e\u200f")
_KEYCAP_BASES = frozenset("0123456789#*")
_VIRAMA = 9  # the canonical combining class of viramas
# What draws nothing by itself: spaces, format characters, combining marks.
_UNSEEN = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Me"})


def _plain(c: str) -> bool:
    return c.isascii() or c.isspace()


def _stray_modifier(text: str) -> bool:
    """Whether an invisible character scripts or emoji need stands where it does nothing."""
    for found in _MODIFIERS.finditer(text):
        i, c = found.start(), found.group()
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if c in _BIDI_MARKS:  # (RLM and ALM are right-to-left themselves: not counted)
            fits = any(unicodedata.bidirectional(t) in ("R", "AL") for t in text if t not in _BIDI_MARKS)
        elif c in _JOINERS and before and unicodedata.combining(before) == _VIRAMA:
            fits = True
        elif c in _BETWEEN:
            fits = bool(before and after) and not (_plain(before) and _plain(after))
        else:  # a variation selector
            fits = bool(before) and (not _plain(before) or (before in _KEYCAP_BASES and after == "\u20e3"))
        if not fits:
            return True
    return False


def _composed(text: str) -> str:
    """``text`` in Normalization Form C: "Cafe" + a combining acute accent is
    stored as "Café", so it reads, matches and is searched as typed elsewhere."""
    return unicodedata.normalize("NFC", text)


def text_problem(text: str, *, lines: bool = False) -> str | None:
    """Why ``text`` (stripped) is not text a person typed, or None when it is."""
    if (_NOT_IN_TEXT if lines else _NOT_IN_A_LINE).search(text):
        return "no control characters" if lines else "one line, without tabs or control characters"
    if _INVISIBLE.search(_FLAG.sub("", text)) or _stray_modifier(text):
        return "no invisible characters"
    if all(unicodedata.category(c) in _UNSEEN for c in text):
        return "something to read, not only spaces or marks"
    return None


def check_text(
    field: str, value: object, max_length: int, *, required: bool, lines: bool = False
) -> str | None:
    """Text of at most ``max_length`` characters (stripped, in Unicode's
    composed form), on one line unless ``lines``."""
    if value is None or value == "":
        if required:
            raise InvalidOrderDataError(field, "required")
        return None
    if isinstance(value, str):
        value = _composed(value)
    if not isinstance(value, str) or len(value) > max_length or not value.strip():
        raise InvalidOrderDataError(field, f"text of at most {max_length} characters")
    text = value.strip()
    if why := text_problem(text, lines=lines):
        raise InvalidOrderDataError(field, why)
    return text


# -- the customer's contact and shipping details (personal data) -------------------

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_ADDRESS_LINE_LENGTH = 200
MAX_POSTCODE_LENGTH = 20
MAX_CITY_LENGTH = 100
COUNTRY_PATTERN = r"^[A-Z]{2}$"
# The shape of an address; the HTTP edge checks emails fully (and countries
# against ISO 3166), the domain only that nothing malformed gets recorded.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
# How a personal value reads once its customer has been forgotten (the event
# store's marker, which the repository hands the domain unchanged).
ERASED = "[erased]"

_EMAIL = re.compile(EMAIL_PATTERN)
_COUNTRY = re.compile(COUNTRY_PATTERN)


def check_personal_text(field: str, value: object, max_length: int, *, required: bool) -> str | None:
    """Text a person typed of at most ``max_length`` characters (stripped,
    in Unicode's composed form)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidOrderDataError(field, "required")
        return None
    if isinstance(value, str):
        value = _composed(value)
    if not isinstance(value, str) or len(value.strip()) > max_length:
        raise InvalidOrderDataError(field, f"text of at most {max_length} characters")
    text = value.strip()
    if why := text_problem(text):
        raise InvalidOrderDataError(field, why)
    if text == ERASED:
        raise InvalidOrderDataError(field, f"{ERASED} is not a value")
    return text


def check_email(value: object) -> str:
    text = check_personal_text("email", value, MAX_EMAIL_LENGTH, required=True)
    # No format or private-use character: an address is typed, and one that
    # looks like another must not be another.
    if _EMAIL.fullmatch(text) is None or any(unicodedata.category(c) in ("Cf", "Co") for c in text):
        raise InvalidOrderDataError("email", "an email address, like name@example.com")
    return text


def check_country(value: object) -> str:
    if not isinstance(value, str) or _COUNTRY.fullmatch(value) is None:
        raise InvalidOrderDataError("country", "an ISO 3166-1 alpha-2 code, like GB or DE")
    return value
