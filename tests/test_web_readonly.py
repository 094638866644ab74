"""Read-only console views never wait for a writer: a running pipeline never blocks a page.

The app is given a short lock wait, so a view that still asked for SQLite's write lock while
another connection holds it would answer an error instead of the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text

from tests.web_support import ROLES_USERS, api_token, make_web, seed
from warning.store.engine import Store
from warning.store.models import ApiToken, AuditEntry, WebSession, utcnow


@pytest.fixture
def web(store, settings):
    quick = settings.model_copy(
        update={"store_lock_wait_seconds": 0.3, "store_busy_timeout_seconds": 0.1}
    )
    return make_web(store, quick)


@contextmanager
def pipeline_writing(store: Store) -> Iterator[None]:
    """Another connection in the middle of a write transaction (as the match stage is)."""
    with store.session() as session:  # SQLite: BEGIN IMMEDIATE, the write lock is held
        session.add(AuditEntry(at=utcnow(), actor="pipeline", action="test.hold", detail={}))
        session.flush()
        if not store.is_sqlite:  # PostgreSQL: writers of the alerts table wait for us
            session.execute(text("LOCK TABLE alerts IN EXCLUSIVE MODE"))
        yield


def _last_seen(store: Store) -> dt.datetime:
    with store.read_session() as session:
        seen = session.scalar(select(WebSession.last_seen_at))
    assert seen is not None
    return seen


def test_pages_and_api_answer_while_a_pipeline_writes(web, store):
    seeded = seed(web)
    client = web.login(ROLES_USERS["enterprise"])
    own = seeded.own_alerts[0]
    assert client.get(f"/alerts/{own}").status_code == 200  # read: nothing left to record
    token = api_token(web, ROLES_USERS["enterprise"])  # never used: its first use is a touch
    bureau = web.login(ROLES_USERS["bureau"])
    expert = web.login(ROLES_USERS["expert"])
    with pipeline_writing(store):
        for path in (
            "/",
            "/alerts",
            "/alerts.json?severity=high",
            f"/alerts/{own}",
            "/subscriptions",
            f"/subscriptions/{seeded.own_subscription}",
            "/silences",
        ):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
        assert client.get("/alerts.json").json()["total"] == len(seeded.own_alerts)
        for path in ("/dashboard", "/enterprises", "/digests"):
            assert bureau.get(path).status_code == 200, path
        assert expert.get("/rules").status_code == 200
        api = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200, api.text
        assert [a["id"] for a in api.json()["items"]] == sorted(seeded.own_alerts, reverse=True)
        detail = client.get(f"/api/v1/alerts/{own}", headers={"Authorization": f"Bearer {token}"})
        assert detail.status_code == 200
        # another tenant's alert is still not disclosed
        other = client.get(f"/alerts/{seeded.other_alerts[0]}")
        assert other.status_code == 404


def test_last_seen_is_written_at_most_once_a_minute(web, store):
    seed(web)
    client = web.login(ROLES_USERS["enterprise"])
    logged_in = _last_seen(store)
    client.app.state.clock = lambda: logged_in + dt.timedelta(seconds=30)  # type: ignore[attr-defined]
    assert client.get("/alerts").status_code == 200
    assert _last_seen(store) == logged_in  # touched < 60 s ago: no write
    later = logged_in + dt.timedelta(seconds=90)
    client.app.state.clock = lambda: later  # type: ignore[attr-defined]
    assert client.get("/alerts").status_code == 200
    assert _last_seen(store) == later


def test_api_token_use_is_recorded_at_most_once_a_minute(web, store):
    seed(web)
    token = api_token(web, ROLES_USERS["enterprise"])
    client = web.client()
    start = utcnow()
    headers = {"Authorization": f"Bearer {token}"}
    for offset, expected in ((0, 0), (20, 0), (75, 75)):
        client.app.state.clock = lambda o=offset: start + dt.timedelta(seconds=o)  # type: ignore[attr-defined]
        assert client.get("/api/v1/alerts", headers=headers).status_code == 200
        with store.read_session() as session:
            used = session.scalar(select(ApiToken.last_used_at))
        assert used == start + dt.timedelta(seconds=expected)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_touch_due_while_the_lock_is_held_is_skipped_not_waited_for(web, store):
    seed(web)
    client = web.login(ROLES_USERS["enterprise"])
    logged_in = _last_seen(store)
    later = logged_in + dt.timedelta(minutes=5)
    client.app.state.clock = lambda: later  # type: ignore[attr-defined]
    with pipeline_writing(store):
        assert client.get("/alerts").status_code == 200
    assert _last_seen(store) == logged_in  # skipped: the page did not wait
    assert client.get("/alerts").status_code == 200
    assert _last_seen(store) == later  # the next request records it
