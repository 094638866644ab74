"""Building the emails: Chinese, multipart text + HTML, with a "why this alert" card per alert.

Everything that came from a bulletin (titles, applicants, terms) is untrusted: the HTML part is
rendered by Jinja2 with autoescaping, and headers are set through the ``email`` package after
:func:`clean_header` removed line breaks and control characters, so no crawled text can add a
header or a script. ``Alert.explanation`` is written by the rules stage; the card shows the keys
it knows in a fixed order and any other key generically, so a new key never breaks a mail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from warning.delivery.inline_images import InlineImage, attach_related, extract_data_images

SEVERITY_ORDER = ("critical", "high", "medium", "low")
#: severity -> (colour name in the subject, colour for the card border)
SEVERITY_STYLE: dict[str, tuple[str, str]] = {
    "critical": ("红色", "#c62828"),
    "high": ("橙色", "#ef6c00"),
    "medium": ("黄色", "#f9a825"),
    "low": ("蓝色", "#1565c0"),
}
#: explanation keys shown with a label, in this order (synonyms share a label; the first
#: present wins); any other key follows under its own name
KNOWN_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("matched_conditions", "matched"), "命中条件"),
    (("matched_terms", "terms"), "命中关键词"),
    (("ipc_overlap",), "IPC 重叠"),
    (("similarity",), "相似度"),
    (("competitors",), "竞争对手"),
    (("scope",), "订阅范围命中"),
    (("legal_event",), "法律状态"),
    (("reason",), "原因"),
    (("deadline",), "期限"),
    (("applicants",), "申请人"),
    (("ipc",), "IPC 分类"),
    (("sectors",), "行业置信度"),
    (("window",), "统计窗口"),
    (("examples",), "示例"),
    (("publication_date",), "公开日"),
    (("source",), "数据来源"),
    (("as_of",), "数据截至"),
)
#: labels of rows that describe the document rather than why a rule fired: shown once per card
DOCUMENT_FACT_LABELS = frozenset(
    {"申请人", "IPC 分类", "行业置信度", "公开日", "数据来源", "数据截至"}
)
#: keys shown in the card header (rule, number, title, severity) or of no use to the reader
STRUCTURAL_KEYS = frozenset(
    {
        "rule_title",
        "rule_version",
        "rule_id",
        "rule",
        "number",
        "title",
        "severity",
        "sector",
        "enterprise",
        "notify_enterprise",
    }
)
#: readable names for common condition keys
CONDITION_LABELS = {
    "legal_events": "法律事件",
    "applicant_local": "本地申请人",
    "applicants": "申请人",
    "kinds": "文献类型",
    "keywords": "关键词",
    "ipc": "IPC",
    "competitors": "竞争对手",
    "sectors": "行业",
    "subfields": "细分领域",
    "metric": "指标",
    "group": "分组",
    "window_count": "窗口内数量",
    "baseline_count": "基线数量",
    "ratio": "倍数",
}
#: CRLF line ends and 7-bit bodies (base64/quoted-printable): valid for every SMTP server,
#: no 8BITMIME needed
MAIL_POLICY = SMTP.clone(cte_type="7bit")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def severity_rank(severity: str | None) -> int:
    """0 for critical ... 3 for low; unknown severities sort last."""
    try:
        return SEVERITY_ORDER.index((severity or "").lower())
    except ValueError:
        return len(SEVERITY_ORDER)


def clean_header(value: object, limit: int = 180) -> str:
    """Untrusted text made safe for a header: one line, no control characters, bounded length."""
    text = unicodedata.normalize("NFC", str(value if value is not None else ""))
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: Any) -> str:
    """A JSON value as one readable Chinese line (lists joined with 、, dicts as key: value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, Mapping):
        pairs = ((k, format_value(v)) for k, v in value.items())
        return "；".join(f"{k}: {text}" for k, text in pairs if text)
    if isinstance(value, list | tuple | set):
        return "、".join(text for text in (format_value(v) for v in value) if text)
    return str(value)


def format_similarity(value: Any) -> str:
    if isinstance(value, Mapping):
        parts = []
        if value.get("score") is not None:
            parts.append(f"得分 {format_value(value['score'])}")
        if value.get("percentile") is not None:
            parts.append(f"百分位 {format_value(value['percentile'])}")
        terms = value.get("overlapping_terms") or value.get("terms")
        if terms:
            parts.append(f"共同术语 {format_value(terms)}")
        if value.get("against"):
            parts.append(f"对照 {format_value(value['against'])}")
        if value.get("note"):
            parts.append(str(value["note"]))
        shown = ("score", "percentile", "terms", "overlapping_terms", "against", "note")
        rest = {k: v for k, v in value.items() if k not in shown}
        if rest:
            parts.append(format_value(rest))
        return "；".join(parts)
    return format_value(value)


def public_record_url(number: str | None) -> str | None:
    """Espacenet's public record of a publication number (every office, no login)."""
    if not number:
        return None
    compact = re.sub(r"[^0-9A-Za-z]", "", number)
    if not compact:
        return None
    return "https://worldwide.espacenet.com/patent/search?q=pn%3D" + quote(compact)


@dataclass
class AlertView:
    """One alert with what its card shows, assembled from Alert, Rule, Document and explanation."""

    alert_id: int
    rule_id: str
    rule_title: str
    rule_version: int | str
    severity: str
    sector: str
    sector_name: str
    enterprise_id: str | None
    number: str = ""
    title: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    record_url: str | None = None
    mute_url: str | None = None
    #: signed one-click feedback links {verdict: url} (empty without public_base_url/link_secret)
    feedback_urls: dict[str, str] = field(default_factory=dict)
    #: the stored document the alert is about (alerts on one document share a card)
    document_id: int | None = None

    @property
    def colour(self) -> str:
        return SEVERITY_STYLE.get(self.severity, ("", "#607d8b"))[1]

    @property
    def severity_name(self) -> str:
        return SEVERITY_STYLE.get(self.severity, (self.severity or "未分级",))[0]


def _format_known(key: str, value: Any, sector_names: Mapping[str, str]) -> str:
    if key == "similarity":
        return format_similarity(value)
    if key in ("matched_conditions", "matched") and isinstance(value, Mapping):
        value = {CONDITION_LABELS.get(str(k), k): v for k, v in value.items()}
    if key == "sectors" and isinstance(value, Mapping):
        value = {sector_names.get(str(k), k): v for k, v in value.items()}
    if key == "scope" and isinstance(value, Mapping):
        value = {
            CONDITION_LABELS.get(str(k), k): (
                {sector_names.get(str(s), s): c for s, c in v.items()}
                if k == "sectors" and isinstance(v, Mapping)
                else v
            )
            for k, v in value.items()
        }
    if key == "legal_event" and isinstance(value, Mapping):
        parts = [value.get(k) for k in ("code", "category", "description", "date")]
        return " ".join(format_value(p) for p in parts if p)
    if key == "window" and isinstance(value, Mapping):
        return f"{format_value(value.get('start'))} 至 {format_value(value.get('end'))}"
    return format_value(value)


def explanation_rows(
    explanation: Mapping[str, Any],
    fallbacks: Mapping[str, Any],
    sector_names: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(label, text) rows for the card: known keys first, then anything else the rules wrote.

    ``fallbacks`` (from the stored document and legal event) fill keys the explanation lacks.
    """
    empty: tuple[Any, ...] = (None, "", [], {})
    merged: dict[str, Any] = {k: v for k, v in fallbacks.items() if v not in empty}
    merged.update({k: v for k, v in explanation.items() if v not in empty})
    names = sector_names or {}
    rows: list[tuple[str, str]] = []
    known: set[str] = set()
    for keys, label in KNOWN_KEYS:
        known.update(keys)
        key = next((k for k in keys if k in merged), None)
        if key is not None:
            text = _format_known(key, merged[key], names)
            if text:
                rows.append((label, text))
    for key, value in merged.items():
        if key in STRUCTURAL_KEYS or key in known:
            continue
        text = format_value(value)
        if text:
            rows.append((str(key), text))
    return rows


@dataclass
class CardRule:
    """One rule that fired on a card's document, with the "why" rows that are its own."""

    view: AlertView
    rows: list[tuple[str, str]]


@dataclass
class DocumentCard:
    """Every alert of one email about one document: the document once, then each rule.

    ``facts`` are the document rows (applicants, IPC, source, ...) that every rule's
    explanation shows identically; they are shown once under the title instead of per rule.
    """

    rules: list[CardRule]
    facts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def worst(self) -> AlertView:
        return self.rules[0].view

    @property
    def number(self) -> str:
        return next((r.view.number for r in self.rules if r.view.number), "")

    @property
    def title(self) -> str:
        return next((r.view.title for r in self.rules if r.view.title), "")

    @property
    def record_url(self) -> str | None:
        return next((r.view.record_url for r in self.rules if r.view.record_url), None)

    @property
    def sector_names(self) -> list[str]:
        names: list[str] = []
        for r in self.rules:
            if r.view.sector_name and r.view.sector_name not in names:
                names.append(r.view.sector_name)
        return names

    @property
    def has_document(self) -> bool:
        return self.worst.document_id is not None or bool(self.number)


def _card_key(view: AlertView) -> tuple[str, str]:
    if view.document_id is not None:
        return ("document", str(view.document_id))
    if view.number:
        return ("number", view.number)
    return ("alert", str(view.alert_id))


def document_cards(alerts: Sequence[AlertView]) -> list[DocumentCard]:
    """One card per document, most severe first; in a card the rules by severity, then id.

    Alerts about no document (trend alerts) keep a card each.
    """
    ordered = sorted(alerts, key=lambda a: (severity_rank(a.severity), a.alert_id))
    grouped: dict[tuple[str, str], list[AlertView]] = {}
    for view in ordered:
        grouped.setdefault(_card_key(view), []).append(view)
    cards: list[DocumentCard] = []
    for views in grouped.values():
        shared = [
            row
            for row in views[0].rows
            if row[0] in DOCUMENT_FACT_LABELS and all(row in v.rows for v in views[1:])
        ]
        rules = [CardRule(v, [row for row in v.rows if row not in shared]) for v in views]
        cards.append(DocumentCard(rules=rules, facts=shared))
    return cards


def mail_domain(mail_from: str) -> str:
    _, addr = parseaddr(mail_from)
    domain = addr.rpartition("@")[2]
    return re.sub(r"[^A-Za-z0-9.-]", "", domain) or "ipwarn.localhost"


def make_message_id(parts: Iterable[object], domain: str) -> str:
    """A Message-ID that depends only on what the message is, so a resend folds in clients."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]
    return f"<ipwarn.{digest}@{domain}>"


def valid_address(address: str) -> bool:
    """A bare ``local@domain`` without spaces or control characters (what we accept as recipient)."""
    _, addr = parseaddr(address)
    return bool(
        addr
        and addr == address.strip()
        and addr.count("@") == 1
        and all(addr.partition("@"))
        and not _CONTROL.search(addr)
        and " " not in addr
    )


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("warning.delivery", "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_alert_bodies(
    cards: Sequence[DocumentCard],
    *,
    enterprise_name: str,
    digest_label: str,
    now: dt.datetime,
    tz: Any,
    more: int = 0,
    held_back: int = 0,
) -> tuple[str, str]:
    """(text, html) bodies of one email carrying ``cards``."""
    context = {
        "held_back": held_back_text(held_back),
        "cards": cards,
        "more": more,
        "headline": count_text(cards),
        "enterprise_name": enterprise_name,
        "digest_label": digest_label,
        "generated": now.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
    }
    env = _env()
    return env.get_template("alert.txt.j2").render(context), env.get_template(
        "alert.html.j2"
    ).render(context)


def held_back_text(count: int) -> str:
    """Why some alerts of a digest come late: the daily cap sent the most important first."""
    if not count:
        return ""
    return (
        f"其中 {count} 条预警因当日推送达到每日上限而顺延至本汇总"
        "（上限内优先推送严重程度更高、相似度得分更高的预警，规则预警优先于侵权风险筛查）。"
    )


def count_text(cards: Sequence[DocumentCard]) -> str:
    """``3 件专利 / 5 条预警``: documents first (what the reader has to look at), then alerts."""
    alerts = sum(len(c.rules) for c in cards)
    documents = sum(1 for c in cards if c.has_document)
    if not documents:
        return f"{alerts} 条预警"
    if documents == alerts:
        return f"{documents} 件专利预警"
    return f"{documents} 件专利 / {alerts} 条预警"


def alert_subject(cards: Sequence[DocumentCard], enterprise_name: str, digest_label: str) -> str:
    """``【红色预警·critical】精品钢材及深加工｜3 件专利 / 5 条预警（企业）``, worst severity first.

    ``cards`` are ordered most severe first (:func:`document_cards`).
    """
    worst = cards[0].worst
    colour = SEVERITY_STYLE.get(worst.severity, ("",))[0]
    sectors: list[str] = []
    for view in sorted(
        (r.view for c in cards for r in c.rules), key=lambda a: severity_rank(a.severity)
    ):
        if view.sector_name and view.sector_name not in sectors:
            sectors.append(view.sector_name)
    sector_text = "、".join(sectors[:3]) + ("等" if len(sectors) > 3 else "") or "知识产权"
    if len(cards) == 1 and cards[0].number:
        rules = len(cards[0].rules)
        what = f"{cards[0].number} 专利" + (f" / {rules} 条预警" if rules > 1 else "预警")
    else:
        what = count_text(cards)
    label = f"{digest_label}·" if digest_label else ""
    subject = f"【{label}{colour}预警·{worst.severity}】{sector_text}｜{what}"
    if enterprise_name:
        subject += f"（{enterprise_name}）"
    return clean_header(subject, limit=200)


def new_message(
    *, mail_from: str, recipient: str, subject: str, message_id: str, now: dt.datetime
) -> EmailMessage:
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = clean_header(mail_from, limit=300)
    msg["To"] = clean_header(recipient, limit=320)
    msg["Subject"] = clean_header(subject, limit=200)
    msg["Date"] = format_datetime(now.astimezone(dt.UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def build_alert_email(
    alerts: Sequence[AlertView],
    *,
    mail_from: str,
    recipient: str,
    enterprise_name: str,
    digest_label: str,
    message_id: str,
    now: dt.datetime,
    tz: Any,
    more: int = 0,
    held_back: int = 0,
) -> EmailMessage:
    """One email with a card per document (:func:`document_cards`); ``more`` alerts of the same
    batch follow in the next mail (``max_cards_per_mail``), and ``held_back`` of its alerts were
    moved here by the daily cap (the mail says both)."""
    ordered = sorted(alerts, key=lambda a: (severity_rank(a.severity), a.alert_id))
    cards = document_cards(ordered)
    subject = alert_subject(cards, enterprise_name, digest_label)
    msg = new_message(
        mail_from=mail_from, recipient=recipient, subject=subject, message_id=message_id, now=now
    )
    text, html = render_alert_bodies(
        cards,
        enterprise_name=enterprise_name,
        digest_label=digest_label,
        now=now,
        tz=tz,
        more=more,
        held_back=held_back,
    )
    msg.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    mute_links = [a.mute_url for a in ordered if a.mute_url]
    if mute_links and len(set(mute_links)) == 1:
        msg["List-Unsubscribe"] = f"<{mute_links[0]}>"
        # RFC 8058 one-click: the console's /mute answers this POST without a page
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Ipwarn-Alerts"] = ",".join(str(a.alert_id) for a in ordered)
    return msg


class AttachmentMissing(Exception):
    """A digest row names a file that is not there (a permanent error for that row)."""


def build_payload_email(
    payload: Mapping[str, Any],
    *,
    mail_from: str,
    recipient: str,
    message_id: str,
    now: dt.datetime,
    inline_images: bool = False,
) -> EmailMessage:
    """A digest or operator row sent as queued: subject, text, optional HTML and attachments.

    The HTML was rendered (and escaped) by whoever queued it, so it is not escaped again.
    ``inline_images`` (digests) turns its ``data:`` images into ``cid:`` parts of a
    ``multipart/related`` body, because Gmail and Outlook do not show ``data:`` images.
    """
    msg = new_message(
        mail_from=mail_from,
        recipient=recipient,
        subject=str(payload.get("subject") or "ipwarn"),
        message_id=message_id,
        now=now,
    )
    msg.set_content(str(payload.get("text") or ""), subtype="plain", charset="utf-8")
    html = payload.get("html")
    if not html and payload.get("html_path"):
        path = Path(str(payload["html_path"]))
        if not path.is_file():
            raise AttachmentMissing(f"html_path not found: {path}")
        html = path.read_text(encoding="utf-8")
    if html:
        images: list[InlineImage] = []
        if inline_images:
            html, images = extract_data_images(str(html), mail_domain(mail_from))
        msg.add_alternative(str(html), subtype="html", charset="utf-8")
        if images:
            html_part = msg.get_body(("html",))
            assert isinstance(html_part, EmailMessage)
            attach_related(html_part, images)
    for item in payload.get("attachments") or []:
        path = Path(str(item))
        if not path.is_file():
            raise AttachmentMissing(f"attachment not found: {path}")
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=clean_header(path.name)
        )
    return msg
