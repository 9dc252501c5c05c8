from django.apps import AppConfig
from django.core import checks


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eventstore.master_key import master_key_check

        checks.register(master_key_check)
