"""Path converters the URLconfs share."""

import uuid

from django.urls import register_converter


class AnyCaseUUID:
    """A UUID in a path, in either case: UUIDs are read without regard to
    case (RFC 9562), and some clients write them in capitals. Links are
    written in lower case. Django's own ``uuid`` converter matches lower
    case only, so an id in capitals was a 404."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value) -> str:
        return str(value).lower()


register_converter(AnyCaseUUID, "id")
