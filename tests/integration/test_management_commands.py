import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_create_api_token_prints_a_token_that_authenticates(client, capsys):
    call_command("create_api_token", "robot", "--create-user", "--manager")
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(key=key).user.username == "robot"
    response = client.post(
        "/api/orders/",
        data='{"customer_id": "c1", "items": [{"sku": "BASE", "quantity": 1}]}',
        content_type="application/json",
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status_code == 201

    call_command("create_api_token", "robot")
    assert capsys.readouterr().out.strip() == key  # the same token again
    call_command("create_api_token", "robot", "--reset")
    assert capsys.readouterr().out.strip() != key


def test_create_api_token_for_an_unknown_user_says_so():
    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("create_api_token", "ghost")
    assert not User.objects.filter(username="ghost").exists()
