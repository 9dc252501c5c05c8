"""Settings read strictly from the environment: a value its variable cannot
mean stops the process at start, naming the variable and the value (it was
read as something else: "ture" as false, a bad rate as a 500 per request)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.environment import Env

ROOT = Path(__file__).resolve().parents[2]


def env(**values) -> Env:
    reader = Env()
    reader.ENVIRON = values
    return reader


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("", False)]
)
def test_a_boolean_is_one_of_the_words_for_true_or_false(raw, value):
    assert env(FLAG=raw).bool("FLAG") is value
    assert env().bool("FLAG", default=True) is True


@pytest.mark.parametrize("raw", ["ture", "maybe", "2"])
def test_any_other_word_for_a_boolean_stops_the_process(raw):
    with pytest.raises(ImproperlyConfigured, match=f"FLAG must be true or false .*not '{raw}'"):
        env(FLAG=raw).bool("FLAG", default=False)


def test_numbers_name_their_variable_and_value_and_keep_their_bounds():
    assert env(N="5").int("N", default=1, minimum=1) == 5 and env().int("N", default=7) == 7
    with pytest.raises(ImproperlyConfigured, match="N must be a whole number, not 'abc'"):
        env(N="abc").int("N", default=1)
    with pytest.raises(ImproperlyConfigured, match="N must be at least 1, not 0"):
        env(N="0").int("N", default=1, minimum=1)
    assert env(X="0.5").float("X", default=1.0) == 0.5
    with pytest.raises(ImproperlyConfigured, match="X must be a number, not 'abc'"):
        env(X="abc").float("X", default=1.0)


def test_choices_and_rates():
    assert env(MODE="off").choice("MODE", ("celery", "off"), default="celery") == "off"
    with pytest.raises(ImproperlyConfigured, match="MODE must be one of celery, off, not 'bogus'"):
        env(MODE="bogus").choice("MODE", ("celery", "off"), default="celery")
    assert env(RATE="5/s").rate("RATE", default="30/min") == "5/s"
    assert env().rate("RATE", default="30/min") == "30/min"
    with pytest.raises(ImproperlyConfigured, match="RATE must be a count per time"):
        env(RATE="lots").rate("RATE", default="30/min")


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("INVENTORY_RESERVATION", "ture", "INVENTORY_RESERVATION must be true or false"),
        ("PROJECTIONS_MODE", "bogus", "PROJECTIONS_MODE must be one of celery, inprocess, off"),
        ("PROJECTION_BATCH_SIZE", "0", "PROJECTION_BATCH_SIZE must be at least 1"),
        ("AUTH_THROTTLE_RATE", "lots", "AUTH_THROTTLE_RATE must be a count per time"),
        ("IDEMPOTENCY_KEY_TTL", "abc", "IDEMPOTENCY_KEY_TTL must be a whole number, not 'abc'"),
        ("SHOP_CURRENCY", "XYZ", "SHOP_CURRENCY must be an ISO 4217 code"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ("PROJECTION_CONSISTENCY", "order_list=bogus", "order_list='bogus': inline or async"),
        (
            "PROJECTION_CONSISTENCY",
            "nosuch=inline",
            "PROJECTION_CONSISTENCY names 'nosuch', not a read model",
        ),
    ],
)
def test_a_process_does_not_start_with_a_setting_it_cannot_read(tmp_path, variable, value, said):
    environment = {**os.environ, "VAR_DIR": str(tmp_path), variable: value}
    environment.pop("DATABASE_URL", None)  # the embedded SQLite default: nothing to reach
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0 and said in started.stderr, started.stderr[-2000:]
