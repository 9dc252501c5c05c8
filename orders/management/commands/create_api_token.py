"""``python manage.py create_api_token USERNAME``: print an API token for a user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print the API token of USERNAME (creating the token if needed). Send it as "
        "'Authorization: Token <token>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create-user", action="store_true", help="create the user if it does not exist")
        parser.add_argument(
            "--manager",
            action="store_true",
            help="add the user to the 'Order managers' group (may send commands)",
        )
        parser.add_argument("--reset", action="store_true", help="replace an existing token with a new one")

    def handle(self, *args, username: str, create_user: bool, manager: bool, reset: bool, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(f"no user {username!r}; pass --create-user to create one")
            user = User.objects.create_user(username)  # no password: API access only
            self.stderr.write(f"created user {username!r} (no password; API token only)")
        if manager:
            user.groups.add(Group.objects.get(name="Order managers"))
        if reset:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        if not (user.is_staff or user.has_perm("orders.manage_orders")):
            self.stderr.write(
                "note: this user may read but not send commands; add --manager to allow commands"
            )
        self.stdout.write(token.key)
