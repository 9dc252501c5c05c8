"""How the OpenAPI schema describes request bodies: as strictly as the API
reads them. drf-spectacular leaves out what a client needs to know to send
a body the API accepts: that it refuses fields it does not name
(``config.serializers.StrictSerializer``), and how many items a list takes."""

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from config.serializers import StrictSerializer


class AutoSchema(openapi.AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        serializer = force_instance(serializer)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        properties = schema.get("properties", {})
        for name, field in serializer.fields.items():
            prop = properties.get(name)
            if not isinstance(field, serializers.ListSerializer) or not isinstance(prop, dict):
                continue
            least = max(field.min_length or 0, 0 if field.allow_empty else 1)
            if least:
                prop["minItems"] = least
            if field.max_length is not None:
                prop["maxItems"] = field.max_length
        return schema
