import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import settings_for
from warning.config import SourceConfig
from warning.scheduler import JobSpec, build_scheduler, job_specs, leadership, run_job
from warning.store.models import JobRun

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_jobs_follow_the_configured_cadences(settings):
    s = settings.model_copy(
        update={
            "sources": {
                "gazette": SourceConfig(base_url="http://127.0.0.1:1/", cron="30 5 * * tue"),
                "epo": SourceConfig(),  # no base_url: switched off, no job
            }
        }
    )
    specs = {spec.id: spec for spec in job_specs(s)}
    assert set(specs) == {"crawl:gazette", "pipeline", "deliver", "digest", "health"}
    sunday = dt.datetime(2026, 11, 22, 12, 0, tzinfo=SHANGHAI)
    assert specs["digest"].trigger.get_next_fire_time(None, sunday) == dt.datetime(
        2026, 11, 23, 8, 0, tzinfo=SHANGHAI
    )
    assert specs["crawl:gazette"].trigger.get_next_fire_time(None, sunday) == dt.datetime(
        2026, 11, 24, 5, 30, tzinfo=SHANGHAI
    )
    assert specs["crawl:gazette"].timeout > s.sources["gazette"].timeout_seconds


def test_every_job_coalesces_runs_alone_and_tolerates_misfires(settings, sqlite_store):
    scheduler = build_scheduler(settings, sqlite_store, None)
    scheduler.start(paused=True)
    try:
        for job in scheduler.get_jobs():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == settings.misfire_grace_seconds >= 600
    finally:
        scheduler.shutdown(wait=False)


def test_a_second_scheduler_waits_as_standby_until_the_first_stops(settings, store):
    s = settings_for(store, settings)
    first_stop, second_stop = threading.Event(), threading.Event()
    became_leader = threading.Event()
    with leadership(store, s, 0.1, first_stop) as leader:
        assert leader
        other = type(store)(store.url)

        def second():
            with leadership(other, s, 0.1, second_stop) as second_leader:
                if second_leader:
                    became_leader.set()
                    second_stop.wait(5)

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.6)
        assert not became_leader.is_set(), "two schedulers ran at once"
    assert became_leader.wait(5), "the standby never took over"
    second_stop.set()
    thread.join(5)
    other.dispose()


def test_a_job_that_overruns_its_timeout_is_killed_and_recorded(settings, sqlite_store):
    spec = JobSpec("slow", ["--help"], trigger=None, timeout=0.001)
    run_job(spec, sqlite_store, None)
    with sqlite_store.session() as session:
        run = session.scalars(select(JobRun).where(JobRun.job == "job:slow")).one()
    assert run.status == "timeout" and "killed after" in run.error


def test_serve_stops_gracefully_on_sigterm_and_a_second_serve_is_standby(tmp_path):
    env = {
        **os.environ,
        "IPWARN_DATA_DIR": str(tmp_path / "var"),
        "IPWARN_PIPELINE_INTERVAL_MINUTES": "600",
    }
    env.pop("IPWARN_CONFIG", None)
    cmd = [sys.executable, "-m", "warning", "serve", "--poll-seconds", "0.2"]
    first = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = first.stderr.readline()
        lines.append(line)
        if "scheduler.started" in line:
            break
    assert any("scheduler.started" in line for line in lines), "".join(lines)
    second = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    standby_line = second.stderr.readline()
    assert "scheduler.standby" in standby_line
    second.send_signal(signal.SIGTERM)
    first.send_signal(signal.SIGTERM)
    assert first.wait(20) == 0
    assert second.wait(20) == 0
    assert "scheduler.stopped" in first.stderr.read()
