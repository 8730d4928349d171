import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from helpdesk.accounts import user_create, user_set_role
from helpdesk.demo_history import seed_history
from helpdesk.models import User
from helpdesk.roles import Role
from tickets.models import Category, Team

DEMO_USERS = [
    ("admin@example.com", "Ada Admin", Role.ADMIN),
    ("manager@example.com", "Márcia Gerente", Role.MANAGER),
    ("agent@example.com", "Ana Agente", Role.AGENT),
    ("customer@example.com", "Carlos Cliente", Role.CUSTOMER),
]
DEMO_TEAMS = ["Suporte técnico", "Financeiro"]
DEMO_CATEGORIES = [
    ("Problemas técnicos", "Suporte técnico"),
    ("Dúvidas", "Suporte técnico"),
    ("Financeiro", "Financeiro"),
]


class Command(BaseCommand):
    help = (
        "Create the demo accounts (admin@, manager@, agent@ and customer@example.com), "
        "teams and categories. Idempotent: existing accounts are left as they are. The "
        "password is HELPDESK_DEMO_PASSWORD, or one generated and printed once. --history "
        "adds 90 days of tickets (replies, resolutions, ratings) for living reports, once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--history", action="store_true", help="Also make up the last 90 days of tickets."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = settings.HELPDESK_DEMO_PASSWORD or secrets.token_urlsafe(9)
        created = []
        with transaction.atomic():
            teams = {name: Team.objects.get_or_create(name=name)[0] for name in DEMO_TEAMS}
            for name, team in DEMO_CATEGORIES:
                Category.objects.get_or_create(name=name, defaults={"default_team": teams[team]})
            for email, full_name, role in DEMO_USERS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = user_create(
                        email=email, full_name=full_name, role=role, password=password
                    )
                    created.append(email)
                else:
                    user_set_role(user=user, role=user.role)
                if role in {Role.AGENT, Role.MANAGER}:
                    user.teams.add(teams[DEMO_TEAMS[0]])
        if created:
            self.stdout.write("Demo accounts (shown once):")
            for email in created:
                self.stdout.write(f"  {email:24} password: {password}")
        else:
            self.stdout.write("Demo accounts already exist; passwords unchanged.")
        if options["history"]:
            made = seed_history()
            if made:
                self.stdout.write(f"History: {made} tickets over the last 90 days.")
            else:
                self.stdout.write("History already seeded; nothing added.")
