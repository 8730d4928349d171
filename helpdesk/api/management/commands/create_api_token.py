"""create_api_token EMAIL --name NAME [--days N]: print a new token once, for scripts."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from helpdesk.api.tokens import token_create
from helpdesk.models import User, normalize_email_address


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument("--days", type=int, default=0, help="Expire after N days (0: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalize_email_address(options["email"])
        user = User.objects.filter(email=email, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {email}.")
        if options["days"] < 0:
            raise CommandError("--days cannot be negative.")
        expires = (
            timezone.now() + datetime.timedelta(days=options["days"]) if options["days"] else None
        )
        _token, secret = token_create(user=user, name=options["name"], expires_at=expires)
        self.stdout.write(secret)
