"""A small, hand-countable fixture week for the digest tests: 2026-W47 (16-22 Nov 2026).

Steel in W47 (the figures the tests expect are worked out in the comments):

- 6 documents: d1 A 鞍钢 (鞍山), d2 B 鞍钢 + 东北大学 (沈阳), d3 A 宝钢 (上海), d4 A JFE (日本),
  d5 B 新日铁 (日本), d6 U POSCO (韩国; untagged, steel through IPC C21D8/12).
  grants = d2, d5, d6 = 3. First applicants foreign: d4, d5, d6 -> 3/6 = 0.5.
- d7 was tagged steel by model v1 but equipment by the newer v2: it counts for equipment only.
- history: W46 has 4 steel documents (1 grant), W44 has 2 (no grant), all Chinese; no other week
  has data. mean12 = (4 + 2) / 2 = 3, vs_mean = 6 / 3 = 2.0, wow = (6 - 4) / 4 = 0.5;
  grants: prev 1, mean 0.5, vs_mean 6.0. Trailing foreign share 0/6 = 0 -> change +50 points.
- applicant links: 鞍钢 2 (d1, d2), 东北大学, 宝钢, JFE, 新日铁, POSCO 1 each -> 7 links;
  CR4 = (2 + 1 + 1 + 1) / 7 = 0.7143; HHI = (4 + 5) / 49 * 10000 = 1836.7.
- local: d1, d2 -> 2 (鞍山 2, 辽宁 2).
- legal events dated in W47 on older steel documents: CF01 (termination), MK4A (expiry),
  IW01 (invalidation), TR01 鞍钢 -> 宝钢 (out of the city), TR01 JFE -> 鞍山某科技 (into the city);
  one more CF01 dated in W46 is outside the week. Opportunities: CF01, MK4A, IW01 (full) = 3.
- alerts created in W47 (Asia/Shanghai): critical and high on steel, medium on equipment; a
  critical *test* alert, a suppressed one and one created Sunday 23:00 Shanghai time (W46) do not count.

Expected steel level: critical (foreign share +50 points >= 25), with high from filings_vs_mean
2.0, foreign_share 0.5 and one critical alert; medium from CR4, invalidations and transfers_out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from warning.ipc import normalize_ipc_list
from warning.records import DocumentRecord, LegalEventRecord
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import Alert, DocumentTag, Rule

WEEK = "2026-W47"
MONDAY = dt.date(2026, 11, 16)

ANSTEEL = ("鞍钢股份有限公司", "辽宁省鞍山市铁西区")
NEU = ("东北大学", "辽宁省沈阳市和平区")
BAOSTEEL = ("宝山钢铁股份有限公司", "上海市宝山区")
JFE = ("JFE钢铁株式会社", "日本东京都")
NSC = ("新日本制铁株式会社", "日本东京都")
POSCO = ("浦项制铁公司", "韩国庆尚北道")


def doc_record(
    number: str,
    kind: str,
    day: dt.date,
    applicants: list[tuple[str, str]],
    ipc: list[str],
    title: str = "",
    events: list[LegalEventRecord] | None = None,
) -> DocumentRecord:
    return DocumentRecord(
        office="CN",
        number=f"CN{number}{kind}",
        kind=kind,
        title=title or f"钢材文献{number}",
        applicants=[a for a, _ in applicants],
        addresses=[b for _, b in applicants],
        ipc=ipc,
        publication_date=day,
        legal_events=events or [],
    )


def add_document(
    store: Store, record: DocumentRecord, tags: dict[str, list[str]] | None = None
) -> int:
    """Ingest ``record``; ``tags`` maps model_version -> assigned sectors (created in order)."""
    with store.session() as session:
        doc_id = ingest_document(session, record).document_ids[0]
        for n, (version, sectors) in enumerate((tags or {}).items()):
            for sector in sectors:
                session.add(
                    DocumentTag(
                        document_id=doc_id,
                        model_version=version,
                        sector=sector,
                        subfield="",
                        confidence=0.9,
                        assigned=True,
                        created_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC) + dt.timedelta(hours=n),
                    )
                )
    return doc_id


def add_alert(
    store: Store,
    doc_id: int | None,
    severity: str,
    sector: str | None,
    created_at: dt.datetime,
    *,
    status: str = "sent",
    explanation: dict[str, Any] | None = None,
    key: str = "",
    as_of: dt.date | None = None,
) -> int:
    with store.session() as session:
        rule = session.query(Rule).filter_by(rule_id="r.test").one_or_none()
        if rule is None:
            rule = Rule(
                rule_id="r.test",
                version=1,
                title="测试规则",
                severity="high",
                status="active",
                definition={},
                checksum="x",
            )
            session.add(rule)
            session.flush()
        alert = Alert(
            dedupe_key=key or f"k{doc_id}-{severity}-{created_at.isoformat()}-{status}",
            rule_pk=rule.id,
            rule_id="r.test",
            rule_version=1,
            document_id=doc_id,
            severity=severity,
            sector=sector,
            status=status,
            explanation=explanation or {"why": f"{severity} 测试原因"},
            as_of=as_of,
            created_at=created_at,
        )
        session.add(alert)
        session.flush()
        return alert.id


def seed_fixture_week(store: Store) -> dict[str, int]:
    """Store the fixture week described in the module docstring; returns document ids by name."""
    steel_ipc = ["C21D8/12"]
    d = MONDAY
    ids: dict[str, int] = {}
    ids["d1"] = add_document(
        store, doc_record("100001", "A", d, [ANSTEEL], steel_ipc), {"v2": ["steel"]}
    )
    ids["d2"] = add_document(
        store,
        doc_record("100002", "B", d + dt.timedelta(days=1), [ANSTEEL, NEU], steel_ipc),
        {"v2": ["steel"]},
    )
    ids["d3"] = add_document(
        store,
        doc_record("100003", "A", d + dt.timedelta(days=2), [BAOSTEEL], steel_ipc),
        {"v2": ["steel"]},
    )
    ids["d4"] = add_document(
        store,
        doc_record("100004", "A", d + dt.timedelta(days=3), [JFE], steel_ipc),
        {"v2": ["steel"]},
    )
    ids["d5"] = add_document(
        store,
        doc_record("100005", "B", d + dt.timedelta(days=4), [NSC], steel_ipc),
        {"v2": ["steel"]},
    )
    ids["d6"] = add_document(
        store, doc_record("100006", "U", d + dt.timedelta(days=6), [POSCO], steel_ipc)
    )  # untagged: IPC fallback
    ids["d7"] = add_document(
        store,
        doc_record(
            "100007", "A", d + dt.timedelta(days=2), [BAOSTEEL], steel_ipc, title="轧机设备"
        ),
        {"v1": ["steel"], "v2": ["equipment"]},
    )
    # history: W46 4 steel docs (1 grant), W44 2 steel docs
    w46, w44 = d - dt.timedelta(weeks=1), d - dt.timedelta(weeks=3)
    for n, kind in enumerate(["A", "A", "A", "B"]):
        add_document(
            store,
            doc_record(f"2000{n}", kind, w46 + dt.timedelta(days=n), [BAOSTEEL], steel_ipc),
            {"v2": ["steel"]},
        )
    for n in range(2):
        add_document(store, doc_record(f"3000{n}", "A", w44, [NEU], steel_ipc), {"v2": ["steel"]})
    # legal events in W47 on documents published long ago
    old = dt.date(2012, 3, 7)

    def old_doc(
        number: str, event: LegalEventRecord, holders: list[tuple[str, str]] | None = None
    ) -> int:
        return add_document(
            store,
            doc_record(number, "B", old, holders or [ANSTEEL], steel_ipc, events=[event]),
            {"v2": ["steel"]},
        )

    ids["old1"] = old_doc(
        "900001",
        LegalEventRecord(code="CF01", date=d + dt.timedelta(days=1), category="termination"),
    )
    ids["old2"] = old_doc("900002", LegalEventRecord(code="MK4A", date=d + dt.timedelta(days=2)))
    ids["old3"] = old_doc(
        "900003",
        LegalEventRecord(code="IW01", date=d + dt.timedelta(days=3), category="invalidation"),
    )
    ids["old4"] = old_doc(
        "900004",
        LegalEventRecord(
            code="TR01",
            date=d + dt.timedelta(days=4),
            category="transfer",
            parties={"from": [ANSTEEL[0]], "to": [BAOSTEEL[0]]},
        ),
    )
    ids["old5"] = old_doc(
        "900005",
        LegalEventRecord(
            code="TR01",
            date=d + dt.timedelta(days=5),
            category="transfer",
            parties={"from": [JFE[0]], "to": ["鞍山市某某科技有限公司"]},
        ),
        holders=[JFE],
    )
    ids["old6"] = old_doc(
        "900006",
        LegalEventRecord(code="CF01", date=d - dt.timedelta(days=1), category="termination"),
    )
    # alerts: W47 starts Sunday 16:00 UTC (Monday 00:00 Asia/Shanghai)
    start = dt.datetime(2026, 11, 15, 16, 0, tzinfo=dt.UTC)
    add_alert(
        store,
        ids["d4"],
        "critical",
        "steel",
        start + dt.timedelta(hours=1),
        explanation={"why": "JFE 在取向硅钢领域的新申请"},
    )
    add_alert(store, ids["d5"], "high", "steel", start + dt.timedelta(days=2))
    add_alert(store, ids["d7"], "medium", "equipment", start + dt.timedelta(days=3))
    add_alert(store, ids["d4"], "critical", "steel", start + dt.timedelta(days=1), status="test")
    add_alert(store, ids["d4"], "high", "steel", start + dt.timedelta(days=1), status="suppressed")
    add_alert(store, ids["d3"], "critical", "steel", start - dt.timedelta(hours=1))
    return ids


#: 3,000 real rows of the CNIPA 2019-07-12 gazette (see tests/fixtures/rules/ORIGIN.md)
GAZETTE_SAMPLE = Path(__file__).parent / "fixtures" / "rules" / "gazette_sample.tsv"


def gazette_records(start: int, count: int, day: dt.date) -> list[DocumentRecord]:
    """Real gazette rows ``start`` .. ``start + count`` as documents published on ``day``.

    The rows are real (number, title, IPC, applicant, address); only the publication date is
    set by the caller, which is how a test builds weeks the real data (one gazette week) lacks.
    """
    lines = GAZETTE_SAMPLE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]
    records = []
    for row in rows[start : start + count]:
        number = row["number"]
        records.append(
            DocumentRecord(
                office="CN",
                number=number,
                kind=number[-1] if number[-1:].isalpha() else "A",
                title=row["title"],
                applicants=[row["applicant"]],
                addresses=[row["address"]],
                ipc=normalize_ipc_list(row["ipc"]),
                publication_date=day,
            )
        )
    return records


def add_records(store: Store, records: list[DocumentRecord]) -> list[int]:
    """Ingest ``records`` untagged (sectors then come from IPC prefixes); returns their ids."""
    with store.session() as session:
        return [ingest_document(session, r).document_ids[0] for r in records]
