#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad setting (LOG_FORMAT=xml, DEBUG=maybe): one line naming it, no traceback.
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
