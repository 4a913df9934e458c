"""`station demo`'s figures include its stories: figures computed before a moment, or not
yet, are asked for again, for a bounded time (the services' /stats over a mock transport)."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cli import stats as cli_stats
from cli.stats import fetch_stats

ENDED = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
URLS = {
    "mediation": "http://mediation",
    "enterprise": "http://enterprise",
    "outreach": "http://outreach",
    "notifier": "http://notifier",
}


def _served(asked: Counter[str]) -> httpx.MockTransport:
    """mediation: old figures twice, then new; enterprise: none yet once, then new;
    outreach: always new; notifier: always old."""

    def handle(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        asked[host] += 1
        if host == "enterprise" and asked[host] == 1:
            return httpx.Response(503, json={"status": "figures_not_computed_yet"})
        old = (host == "mediation" and asked[host] <= 2) or host == "notifier"
        as_of = ENDED + timedelta(seconds=-1 if old else 1)
        return httpx.Response(200, json={"service": host, "as_of": as_of.isoformat(), "n": 1})

    return httpx.MockTransport(handle)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    asked: Counter[str] = Counter()
    transport = _served(asked)

    real = httpx.AsyncClient

    def client(**options: Any) -> httpx.AsyncClient:
        return real(transport=transport, **options)

    monkeypatch.setattr(httpx, "AsyncClient", client)
    monkeypatch.setattr(cli_stats, "FRESH_POLL_S", 0.01)
    return asked


async def test_figures_older_than_the_moment_are_asked_again_for_a_bounded_time(
    asked: Counter[str],
) -> None:
    started = time.monotonic()
    found = await fetch_stats(URLS, newer_than=ENDED, wait_s=0.5)
    waited = time.monotonic() - started

    assert datetime.fromisoformat(found["mediation"]["as_of"]) > ENDED
    assert asked["mediation"] == 3
    assert datetime.fromisoformat(found["enterprise"]["as_of"]) > ENDED
    assert asked["enterprise"] == 2
    assert asked["outreach"] == 1, "fresh at once: asked once"
    assert datetime.fromisoformat(found["notifier"]["as_of"]) < ENDED, "shown as they are"
    assert 0.5 <= waited < 3, "the stale one is waited for no longer than wait_s"


async def test_without_a_moment_each_service_is_asked_once(asked: Counter[str]) -> None:
    found = await fetch_stats(URLS)

    assert set(asked.values()) == {1}
    assert found["enterprise"]["error"] == "figures not computed yet"
