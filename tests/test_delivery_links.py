"""Signed mute links: sign/verify, tampering, expiry, the secret's configuration, the mail."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr

from tests.smtp_support import NOW, add_alerts, add_enterprise, body, smtp_settings
from warning.config import load_settings
from warning.delivery.links import (
    LINK_VALIDITY,
    LinkTokenError,
    link_expiry,
    link_token,
    mute_url,
    verify_link_query,
    verify_link_token,
)
from warning.delivery.stage import run_deliver_stage
from warning.errors import ConfigError
from warning.pipeline import StageContext

SECRET = "s3cret-key-for-tests"
CLAIMS = {"enterprise": "ent-1", "rule": "steel.competitor", "action": "mute"}
EXPIRES = int((NOW + dt.timedelta(days=1)).timestamp())


def test_a_signed_link_verifies_and_names_what_it_allows():
    token = link_token(SECRET, **CLAIMS, expires=EXPIRES)
    claims = verify_link_token(SECRET, **CLAIMS, expires=str(EXPIRES), token=token, now=NOW)
    assert (claims.enterprise, claims.rule, claims.action) == ("ent-1", "steel.competitor", "mute")
    assert claims.expires_at == NOW + dt.timedelta(days=1)
    assert len(token) == 43 and "=" not in token  # base64url of 32 bytes, no padding


@pytest.mark.parametrize(
    "change",
    [
        {"enterprise": "ent-2"},  # someone else's alerts
        {"rule": "steel.other"},
        {"action": "unsubscribe"},
        {"expires": EXPIRES + 86400},  # a longer life
        {"secret": "another-secret"},
        {"token": "A" * 43},
    ],
)
def test_a_tampered_link_is_refused_as_forged(change):
    token = link_token(SECRET, **CLAIMS, expires=EXPIRES)
    args = {**CLAIMS, "expires": EXPIRES, "token": token, "secret": SECRET, **change}
    secret = args.pop("secret")
    with pytest.raises(LinkTokenError) as err:
        verify_link_token(secret, **args, now=NOW)
    assert err.value.reason == "forged"


def test_fields_cannot_be_shifted_between_each_other():
    # "ent|1" + "x" must not sign the same text as "ent" + "1|x"
    a = link_token(SECRET, enterprise="ent,1", rule="x", action="mute", expires=EXPIRES)
    b = link_token(SECRET, enterprise="ent", rule="1,x", action="mute", expires=EXPIRES)
    assert a != b


def test_an_expired_link_is_refused_and_a_bad_expiry_is_malformed():
    token = link_token(SECRET, **CLAIMS, expires=EXPIRES)
    at_expiry = dt.datetime.fromtimestamp(EXPIRES, dt.UTC)
    with pytest.raises(LinkTokenError) as err:
        verify_link_token(SECRET, **CLAIMS, expires=EXPIRES, token=token, now=at_expiry)
    assert err.value.reason == "expired"
    just_before = at_expiry - dt.timedelta(seconds=1)
    assert verify_link_token(SECRET, **CLAIMS, expires=EXPIRES, token=token, now=just_before)
    with pytest.raises(LinkTokenError) as bad:
        verify_link_token(SECRET, **CLAIMS, expires="soon", token=token, now=NOW)
    assert bad.value.reason == "malformed"


def test_mute_url_is_signed_and_only_made_with_base_secret_and_enterprise():
    url = mute_url(
        "https://ip.example.gov/ipwarn/",
        SECRET,
        rule_id="steel.competitor",
        enterprise_id="ent-1",
        now=NOW,
    )
    assert url is not None and url.startswith("https://ip.example.gov/ipwarn/mute?")
    query = dict(parse_qsl(urlsplit(url).query))
    claims = verify_link_query(SECRET, query, now=NOW + LINK_VALIDITY - dt.timedelta(hours=1))
    assert claims.rule == "steel.competitor" and claims.enterprise == "ent-1"
    with pytest.raises(LinkTokenError):
        verify_link_query(SECRET, {**query, "enterprise": "ent-2"}, now=NOW)
    base = "https://ip.example.gov"
    assert mute_url(None, SECRET, rule_id="r", enterprise_id="e", now=NOW) is None
    assert mute_url(base, None, rule_id="r", enterprise_id="e", now=NOW) is None
    assert mute_url(base, SECRET, rule_id="r", enterprise_id=None, now=NOW) is None


def test_link_expiry_is_a_whole_utc_day_after_the_validity():
    expiry = dt.datetime.fromtimestamp(link_expiry(NOW), dt.UTC)
    assert expiry == dt.datetime(2027, 2, 23, tzinfo=dt.UTC)  # NOW + 90 days, next midnight
    midnight = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    assert link_expiry(midnight) == int((midnight + LINK_VALIDITY).timestamp())


def test_link_secret_comes_from_the_environment_never_from_the_config_file(
    settings, tmp_path, monkeypatch
):
    path = tmp_path / "elsewhere.toml"  # not ./ipwarn.toml, which load_settings(None) reads
    path.write_text('link_secret = "in-the-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "IPWARN_LINK_SECRET" in str(err.value) and "in-the-file" not in str(err.value)
    monkeypatch.setenv("IPWARN_LINK_SECRET", "from-env")
    loaded = load_settings(None)
    assert loaded.link_secret is not None and loaded.link_secret.get_secret_value() == "from-env"
    assert "from-env" not in str(loaded.redacted())


def _delivered_html(store, settings, **extra) -> email.message.EmailMessage:
    sub = add_enterprise(store)
    cfg = smtp_settings(settings, store, None, public_base_url="https://ip.example.gov", **extra)
    add_alerts(store, cfg, sub, 1)
    result = run_deliver_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(minutes=10))
    )
    (path,) = result.outputs
    return email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)


def test_mail_carries_a_signed_mute_link_that_verifies(store, settings):
    msg = _delivered_html(store, settings, link_secret=SecretStr(SECRET))
    html = body(msg, "html")
    unsubscribe = str(msg["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith("https://ip.example.gov/mute?")
    assert f'href="{unsubscribe.replace("&", "&amp;")}"' in html
    claims = verify_link_query(SECRET, dict(parse_qsl(urlsplit(unsubscribe).query)), now=NOW)
    assert (claims.enterprise, claims.rule, claims.action) == ("ent-1", "steel.competitor", "mute")


def test_without_a_secret_the_mail_has_no_mute_link_only_the_bureau(store, settings):
    msg = _delivered_html(store, settings)
    html = body(msg, "html")
    text = body(msg, "plain")
    assert "/mute" not in html and "/mute" not in text and msg["List-Unsubscribe"] is None
    assert "请联系知识产权局（规则 steel.competitor）" in html
    assert "请联系知识产权局" in text
