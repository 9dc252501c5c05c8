"""The metrics' settings are checked when a process starts, not at the
first scrape: a METRICS_ALLOWED_NETWORKS entry that is no network stops it
with a clear message; PROMETHEUS_MULTIPROC_DIR set to "" counts as unset
(prometheus-client would write its files into the current directory)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def manage(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("bad", ["10.0.0.300", "office", "10.0.0.0/33"])
def test_a_metrics_allowed_network_that_is_no_network_stops_the_process_at_start(bad):
    started = manage("check", METRICS_ALLOWED_NETWORKS=f"127.0.0.1/32, {bad}")
    assert started.returncode != 0
    assert (
        f"ImproperlyConfigured: METRICS_ALLOWED_NETWORKS: {bad!r} is not an IP address or network"
        in started.stderr
    )


def test_metrics_allowed_networks_take_addresses_networks_and_spaces():
    started = manage("check", METRICS_ALLOWED_NETWORKS=" 10.0.0.0/8, 127.0.0.1 ,::1,192.168.1.7/24,")
    assert started.returncode == 0, started.stderr


COUNT_ONE = """
from config import metrics
metrics.APPENDS.labels("Shelf").inc()
print(metrics.MULTIPROCESS, metrics.APPENDS.labels("Shelf")._value.get())
"""


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_prometheus_multiproc_dir_counts_as_unset(tmp_path, empty):
    counted = manage("shell", "-c", COUNT_ONE, cwd=tmp_path, PROMETHEUS_MULTIPROC_DIR=empty)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[-1].split() == ["False", "1.0"]
    assert list(tmp_path.iterdir()) == []  # no counter_<pid>.db here
