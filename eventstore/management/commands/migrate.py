"""``manage.py migrate`` on the owner's connection by default.

With ``DATABASE_DIRECT_URL`` set, settings define a "direct" database alias:
the role that owns the tables, on a direct (not pooled) connection. The
application itself (``DATABASE_URL``) runs as a restricted role that cannot
change the schema, so migrations go to "direct" unless ``--database`` says
otherwise.
"""

from django.core.management.commands import migrate
from django.db import connections

DIRECT = "direct"


class Command(migrate.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        if DIRECT in connections.databases:
            parser.set_defaults(database=DIRECT)
