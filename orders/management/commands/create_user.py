"""``python manage.py create_user NAME --role manager|viewer|staff [--password P] [--update]``:
a user who can sign in to the web UI, with one of the application's roles."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

ORDER_MANAGERS = "Order managers"
ROLES = {
    "viewer": "reads orders, stock and the dashboard",
    "manager": "also places and changes orders and records stock (the Order managers group)",
    "staff": "everything: also the audit trail, the projections and the admin",
}


class Command(BaseCommand):
    help = (
        "Create a user with a role: viewer (reads), manager (also sends commands) or staff "
        "(everything). Prints a generated password when --password is not given."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            choices=list(ROLES),
            required=True,
            help="; ".join(f"{role}: {what}" for role, what in ROLES.items()),
        )
        parser.add_argument("--password", help="the password (default: a generated one, printed)")
        parser.add_argument("--email", default="", help="an email address (optional)")
        parser.add_argument(
            "--update",
            action="store_true",
            help="change an existing user's role (and password, if --password is given)",
        )

    def handle(
        self, *args, username: str, role: str, password: str | None, email: str, update: bool, **options
    ):
        User = get_user_model()
        username = username.strip()
        if not username:
            raise CommandError("the username is empty")
        user = User.objects.filter(username=username).first()
        if user is not None and not update:
            raise CommandError(
                f"a user {username!r} already exists; pass --update to change its role (or its password)"
            )
        if user is None and update:
            raise CommandError(f"no user {username!r} to update; leave out --update to create it")
        generated = password is None and user is None
        if generated:
            password = secrets.token_urlsafe(12)
        candidate = user or User(username=username, email=email)
        if password is not None:
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                raise CommandError("the password is refused: " + " ".join(exc.messages)) from None
        try:
            managers = Group.objects.get(name=ORDER_MANAGERS)
        except Group.DoesNotExist:
            raise CommandError(f"the {ORDER_MANAGERS!r} group is missing: run manage.py migrate") from None
        with transaction.atomic():
            if user is None:
                user = User.objects.create_user(username, email=email, password=password)
            else:
                if password is not None:
                    user.set_password(password)
                if email:
                    user.email = email
            user.is_staff = user.is_superuser = role == "staff"
            user.save()
            if role == "manager":
                user.groups.add(managers)
            else:
                user.groups.remove(managers)
        self.stdout.write(f"{'Updated' if update else 'Created'} user {username!r} as {role}: {ROLES[role]}.")
        if generated:
            self.stdout.write(f"Password: {password}")
            self.stdout.write("(printed once; change it with: manage.py changepassword " + username + ")")
