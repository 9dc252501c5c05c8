#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # The benchmarks live outside the product, in an app only their settings install.
    default = "bench.settings" if sys.argv[1:2] == ["bench"] else "config.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        # A missing or unreachable database: one line saying so, not a traceback.
        from config.database_errors import explain

        line = explain(exc)
        if line is None:
            raise
        sys.stderr.write(line + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
