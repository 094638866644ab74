"""`ipwarn demo`: the whole pipeline once, on the embedded database and bundled real samples.

It writes ``var/demo.toml`` (an ordinary config file: the crawl subprocesses read it too),
points the ``inbox`` source at the packaged sample bulletins, imports the example enterprise
subscriptions, runs crawl -> classify -> match -> deliver -> digest, and prints where the alert
mails (.eml) and the digest (HTML, PDF) went.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from pathlib import Path

import click
from sqlalchemy import func, select

from warning.app import App
from warning.cli_core import ensure_schema, print_summary
from warning.errors import InputError
from warning.logging import configure_logging
from warning.pipeline import STAGES, StageContext, run_stage
from warning.store.models import Alert, Document, OutboxMessage, utcnow

DEMO_CONFIG = """\
# Written by `ipwarn demo`: the embedded default plus the bundled sample bulletins.
data_dir = "{data_dir}"
log_level = "WARNING"                  # the summary below says what happened; INFO shows each step
group_window_minutes = 0
bureau_recipients = ["bureau@ip.anshan.example.cn"]
reviewer_recipients = ["reviewer@ip.anshan.example.cn"]
operator_recipients = ["ops@ip.anshan.example.cn"]
# mute and feedback links in the demo mails lead to `ipwarn web` on this machine
public_base_url = "http://127.0.0.1:8000"

[sources.inbox]
base_url = "{inbox_url}"
download_delay = 0
timeout_seconds = 300
"""


def write_demo_config(data_dir: Path) -> Path:
    from crawlers.samples import sample_dir

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo.toml"
    path.write_text(
        DEMO_CONFIG.format(data_dir=data_dir.as_posix(), inbox_url=sample_dir().resolve().as_uri()),
        encoding="utf-8",
    )
    return path


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def busiest_week(app: App) -> str | None:
    """The sample bulletins are from 2019: digest the ISO week that has most of them."""
    with app.store.session() as session:
        days = session.execute(
            select(Document.publication_date, func.count())
            .where(Document.publication_date.is_not(None))
            .group_by(Document.publication_date)
        ).all()
    weeks: Counter[str] = Counter()
    for day, count in days:
        if day is not None:
            weeks[iso_week(day)] += count
    return weeks.most_common(1)[0][0] if weeks else None


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    help="Where the demo database, mails and digests go.",
)
def demo(data_dir: Path) -> None:
    """Run the whole pipeline once on bundled samples and print where alerts and digest went."""
    config_path = write_demo_config(data_dir.resolve())
    os.environ["IPWARN_CONFIG"] = str(config_path)  # crawl subprocesses read the same config
    secrets_dir = write_demo_secret(data_dir.resolve())
    os.environ["IPWARN_SECRETS_DIR"] = str(secrets_dir)  # signs the mute/feedback links
    app = App(config_path)
    configure_logging(app.settings.log_level, app.settings.log_format)
    ensure_schema(app)
    from rules.examples import example_subscriptions_path
    from rules.subscriptions import import_subscriptions_file

    with app.store.session() as session:
        imported = import_subscriptions_file(session, example_subscriptions_path())
    click.echo(f"config: {config_path}\nsubscriptions imported: {imported}")
    ctx = StageContext(settings=app.settings, store=app.store, now=utcnow(), force=True)
    results = {}
    for name in STAGES:
        if name == "digest":
            week = busiest_week(app)
            if week:
                ctx.options["week"] = week
        results[name] = run_stage(name, ctx)
    # the digest stage notified the reviewers through the outbox: send that too
    results["deliver (again)"] = run_stage("deliver", ctx)
    print_summary(results)
    with app.store.session() as session:
        alerts = session.scalar(select(func.count()).select_from(Alert))
        queued = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
    click.echo(f"\nalerts stored: {alerts}; outbox: {queued}")
    click.echo(f"alert mails (.eml): {app.settings.outbox_dir.resolve()}")
    click.echo(f"weekly digest:      {app.settings.digest_dir.resolve()}")
    click.echo(f"database:           {app.settings.effective_database_url}")
    print_console_accounts(app, config_path, secrets_dir)


def write_demo_secret(data_dir: Path) -> Path:
    """``<data_dir>/secrets/ipwarn_link_secret``, made once: the console must verify what mails signed."""
    import secrets

    directory = data_dir / "secrets"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ipwarn_link_secret"
    if not path.is_file():
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return directory


def print_console_accounts(app: App, config_path: Path, secrets_dir: Path) -> None:
    """One console user per role and per demo enterprise, with fresh passwords printed once."""
    from warning.store.models import Enterprise
    from warning.web.users import add_user, get_user, reset_password

    wanted: list[tuple[str, str, str | None]] = [
        ("admin@ip.anshan.example.cn", "admin", None),
        ("bureau@ip.anshan.example.cn", "bureau", None),
        ("expert@ip.anshan.example.cn", "expert", None),
    ]
    now = utcnow()
    with app.store.session() as session:
        for ent in session.scalars(select(Enterprise).order_by(Enterprise.id)):
            wanted.append((f"{ent.id}@demo.ipwarn.example.cn", "enterprise", ent.id))
        rows = []
        for email, role, enterprise in wanted:
            try:
                get_user(session, email)
                password = reset_password(session, email, None, actor="demo", now=now)
            except InputError:
                password = add_user(
                    session,
                    email=email,
                    role=role,
                    enterprise_id=enterprise,
                    password=None,
                    actor="demo",
                    now=now,
                ).generated_password
            rows.append((email, role, enterprise, password))
    click.echo("\nconsole accounts (passwords are new at every `make demo`):")
    for email, role, enterprise, password in rows:
        click.echo(
            f"  {role:<10} {email:<40} {password}" + (f"  ({enterprise})" if enterprise else "")
        )
    click.echo(
        "start the console (then open http://127.0.0.1:8000/):\n"
        f"  IPWARN_SECRETS_DIR={secrets_dir} {Path(sys.argv[0]).resolve().parent / 'ipwarn'} "
        f"--config {config_path} web"
    )
