"""The rule and subscription file formats, validated with pydantic (unknown keys rejected).

Values are checked against the taxonomy (sectors, ``sector.subfield`` ids), IPC syntax, the
keyword-expression grammar and legal-event code syntax, each with a did-you-mean where a close
known value exists. :func:`problems_from` turns a ValidationError into located problems.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.query import QuerySyntaxError, parse_query
from rules.yamlsrc import Located, PathKey, field_path
from warning.addresses import check_recipients
from warning.errors import Problem
from warning.taxonomy import load_taxonomy

Severity = Literal["critical", "high", "medium", "low"]
RuleStatus = Literal["draft", "test", "active", "retired"]
Frequency = Literal["immediate", "daily", "weekly"]

#: the Chinese warning-colour names of the severities, for mail and digest
SEVERITY_COLOURS = {"critical": "红", "high": "橙", "medium": "黄", "low": "蓝"}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}

_IPC_PREFIX = re.compile(r"^[A-H](\d{2}([A-Z](\d{1,4}(/\d{0,6})?)?)?)?$")
_EVENT_CODE = re.compile(r"^[A-Z0-9]{2,6}$")
_KIND = re.compile(r"^[A-Z]\d?$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,118}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def did_you_mean(value: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def normalize_ipc_prefix(raw: str) -> str:
    """``"c21d 8/12"`` -> ``"C21D8/12"``; raise ValueError when it cannot start an IPC symbol."""
    text = re.sub(r"\s+", "", raw).upper()
    if not _IPC_PREFIX.match(text):
        raise ValueError(
            f"{raw!r} is not an IPC symbol or prefix (e.g. C21D8/12, H01F1/147, C22C38/)"
        )
    return text


#: kind codes of CN, US, EP and WO publications (A/B/C/U/Y/S and numbered variants)
KNOWN_KINDS = frozenset(
    "A A0 A1 A2 A3 A4 A8 A9 B B1 B2 B3 B8 B9 C C1 C2 C3 C8 C9 D E F H I4 P P1 P2 P3 P4 S S1 "  # noqa: SIM905
    "T U U0 U1 U8 U9 Y Y1 Y8".split()
)
#: WIPO ST.3 codes of the patent offices a bulletin may come from
KNOWN_OFFICES = frozenset(
    "CN US EP WO JP KR DE GB FR TW HK MO RU CA AU IN BR IT ES NL SE CH AT BE DK FI NO PL CZ "  # noqa: SIM905
    "SK HU IL SG MX ZA NZ EA AP OA GC UA TR AR CL CO PE MY TH VN PH ID PT IE GR RO BG HR SI "
    "LU LT LV EE IS MA EG SA AE KZ BY MD GE AM UZ".split()
)
#: scope keys that make a subscription watch something (``min_confidence`` only modifies)
SCOPE_KEYS = ("sectors", "subfields", "keywords", "ipc", "competitors", "own_patents", "products")


def each(values: list[str], check: Any) -> list[str]:
    """Apply ``check`` to every value and report every bad one at once, not just the first."""
    out: list[str] = []
    bad: list[str] = []
    for value in values:
        try:
            out.append(check(value))
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        raise ValueError("; ".join(bad))
    return out


#: validation context of a definition read back from the store: already accepted once, so the
#: checks added later (code tables, empty lists) must not make a stored active rule unusable
STORED = {"stored": True}


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


def _event_code_syntax(value: str) -> str:
    code = value.strip().upper()
    if not _EVENT_CODE.match(code):
        raise ValueError(f"{value!r} is not a legal-event code (e.g. CF01, TR01, IW01)")
    return code


def _kind_syntax(value: str) -> str:
    kind = value.strip().upper()
    if not _KIND.match(kind):
        raise ValueError(f"{value!r} is not a kind code (A, B, U, Y, S, A1, B1, B2 ...)")
    return kind


def _legal_event_code(value: str) -> str:
    from warning.legal_codes import cn_legal_codes

    code = _event_code_syntax(value)
    known = cn_legal_codes()
    if code not in known:
        raise ValueError(
            f"{value!r} is not in the packaged legal-event code table"
            f"{did_you_mean(code, sorted(known))} (see warning/data/ORIGIN.md)"
        )
    return code


def _kind_code(value: str) -> str:
    kind = _kind_syntax(value)
    if kind not in KNOWN_KINDS:
        raise ValueError(f"{value!r} is not a kind code (A, B, U, Y, S, A1, B1, B2 ...)")
    return kind


def _office_code(value: str) -> str:
    office = value.strip().upper()
    if office not in KNOWN_OFFICES:
        raise ValueError(
            f"{value!r} is not a patent office code{did_you_mean(office, sorted(KNOWN_OFFICES))}"
            " (CN, US, EP, WO, JP, KR, ...)"
        )
    return office


def _check_sectors(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    known = load_taxonomy().sector_ids
    for value in values:
        if value not in known:
            raise ValueError(
                f"unknown sector {value!r}{did_you_mean(value, known)} (known: {', '.join(known)})"
            )
    return values


def _check_subfields(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    known = tuple(sf.qualified for sf in load_taxonomy().subfields)
    for value in values:
        if value not in known:
            hint = did_you_mean(value, known)
            if not hint and "." not in value:
                hint = did_you_mean(value, tuple(k.split(".", 1)[1] for k in known))
                hint = hint.replace("did you mean '", "did you mean '<sector>.")
            raise ValueError(
                f"unknown sub-field {value!r}{hint}; sub-fields are named sector.subfield"
            )
    return values


def _check_keywords(value: str | list[str] | None) -> str | list[str] | None:
    if value is None:
        return None
    try:
        parse_query(value)
    except QuerySyntaxError as exc:
        raise ValueError(f"bad keyword expression: {exc}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """``when``: every key given must hold (lists are "any of")."""

    sectors: list[str] | None = None
    subfields: list[str] | None = None
    #: minimum classifier confidence for a sector/sub-field tag to count
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    ipc: list[str] | None = None
    keywords: str | list[str] | None = None
    kinds: list[str] | None = None
    offices: list[str] | None = None
    applicants: list[str] | None = None
    applicant_foreign: bool | None = None
    #: an applicant's address lies in one of ``local_regions`` (鞍山, 辽宁 by default)
    applicant_local: bool | None = None
    legal_events: list[str] | None = None
    #: per subscriber: an applicant is one of the subscriber's competitors
    competitor: Literal[True] | None = None
    #: per subscriber: the document is one of the subscriber's own patents
    own_patent: Literal[True] | None = None
    #: per subscriber: text similarity to its own patents/products is above the background
    similar_to_own: Literal[True] | None = None

    _sectors = field_validator("sectors")(classmethod(lambda cls, v: _check_sectors(v)))
    _subfields = field_validator("subfields")(classmethod(lambda cls, v: _check_subfields(v)))
    _keywords = field_validator("keywords")(classmethod(lambda cls, v: _check_keywords(v)))

    @field_validator(
        "sectors",
        "subfields",
        "ipc",
        "kinds",
        "offices",
        "applicants",
        "legal_events",
        mode="before",
    )
    @classmethod
    def _not_empty(cls, values: Any, info: ValidationInfo) -> Any:
        if isinstance(values, list) and not values and not _stored(info):
            # an empty list would be "any of nothing": it reads as a filter but is none
            raise ValueError("an empty list; give at least one value or leave the key out")
        return values

    @field_validator("ipc")
    @classmethod
    def _ipc(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else each(values, normalize_ipc_prefix)

    @field_validator("legal_events")
    @classmethod
    def _codes(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        check = _event_code_syntax if _stored(info) else _legal_event_code
        return None if values is None else each(values, check)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        check = _kind_syntax if _stored(info) else _kind_code
        return None if values is None else each(values, check)

    @field_validator("offices")
    @classmethod
    def _offices(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        check = (lambda v: v.strip().upper()) if _stored(info) else _office_code
        return None if values is None else each(values, check)

    @field_validator("applicants")
    @classmethod
    def _applicants(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and any(not v.strip() for v in values):
            raise ValueError("applicant names must not be empty")
        return values

    def given(self) -> list[str]:
        """The condition keys that were set (``min_confidence`` is a modifier, not a condition)."""
        return [
            k
            for k in type(self).model_fields
            if k != "min_confidence" and getattr(self, k) is not None
        ]


class AggregateSpec(_Strict):
    """A trend over a window, counted over documents (or legal events) that pass ``when``."""

    #: surge: window rate >= ratio x baseline rate; new_entrant: none in the baseline;
    #: count: at least ``min_count`` in the window
    metric: Literal["surge", "new_entrant", "count"]
    group_by: list[Literal["applicant", "sector"]] = Field(
        default_factory=lambda: ["applicant", "sector"]  # type: ignore[arg-type]
    )
    window_weeks: int = Field(default=4, ge=1, le=52)
    baseline_weeks: int = Field(default=52, ge=1, le=520)
    min_count: int = Field(default=3, ge=1)
    ratio: float = Field(default=3.0, gt=0)


class DeadlineSpec(_Strict):
    """A legal-status deadline of rights in force (``warning.forecast.legal``), per subscriber.

    ``expiry``: a right in the subscriber's scope whose term ends in the next ``months`` (an
    opportunity: free to use from the day after); ``fee_anniversary``: an annual fee of one of
    the subscriber's own patents falls due in the next ``months`` (a reminder).
    """

    event: Literal["expiry", "fee_anniversary"]
    months: int = Field(default=3, ge=1, le=24)
    #: only the subscriber's own patents (always true for fee anniversaries)
    own_patents_only: bool = False


class RuleSpec(_Strict):
    """One version of an expert rule as written in a rule file."""

    id: str
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    description: str = ""
    severity: Severity
    status: RuleStatus = "draft"
    #: risk (a threat), opportunity (e.g. a lapsed patent free to use) or info
    category: Literal["risk", "opportunity", "info"] = "risk"
    kind: Literal["document", "aggregate", "deadline"] = "document"
    when: Conditions = Field(default_factory=Conditions)
    aggregate: AggregateSpec | None = None
    deadline: DeadlineSpec | None = None
    #: "subscribers": every subscription whose scope covers the match; "none": bureau only;
    #: or a list of enterprise ids
    notify: Literal["subscribers", "none"] | list[str] = "subscribers"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError(
                "must be lower-case letters, digits, '.', '_' or '-', e.g. steel-silicon-foreign"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.kind == "aggregate" and self.aggregate is None:
            raise ValueError(
                "an aggregate rule needs an 'aggregate' section (metric, window_weeks, ...)"
            )
        if self.kind != "aggregate" and self.aggregate is not None:
            raise ValueError("'aggregate' is only allowed with kind: aggregate")
        if self.kind == "deadline":
            if self.deadline is None:
                raise ValueError(
                    "a deadline rule needs a 'deadline' section (event: expiry | fee_anniversary)"
                )
            if self.when.given():
                raise ValueError(
                    "a deadline rule takes its scope from the subscriptions, not 'when'"
                )
            if self.notify != "subscribers":
                raise ValueError(
                    "a deadline rule is per subscriber, so notify must be 'subscribers'"
                )
        elif self.deadline is not None:
            raise ValueError("'deadline' is only allowed with kind: deadline")
        if self.kind == "document" and not self.when.given():
            raise ValueError("'when' has no condition; a rule must say what it matches")
        per_subscriber = [
            k for k in ("competitor", "own_patent", "similar_to_own") if getattr(self.when, k)
        ]
        if per_subscriber and self.notify != "subscribers":
            raise ValueError(
                f"when.{per_subscriber[0]} compares with a subscriber, so notify must be 'subscribers'"
            )
        return self

    def summary(self) -> dict[str, Any]:
        """The rule as an alert's explanation names it ("why this alert": which rule, which version)."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "severity": self.severity,
            "category": self.category,
            "status": self.status,
        }

    @property
    def per_subscriber(self) -> bool:
        return any(
            getattr(self.when, k) is not None
            for k in ("competitor", "own_patent", "similar_to_own")
        )


class Scope(_Strict):
    """What a subscription watches: a document is covered when any of these matches."""

    sectors: list[str] = Field(default_factory=list)
    subfields: list[str] = Field(default_factory=list)
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    keywords: str | list[str] | None = None
    ipc: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    #: publication numbers of the enterprise's own patents (for screening and their legal events)
    own_patents: list[str] = Field(default_factory=list)
    #: product descriptions, compared with new documents in infringement-risk screening
    products: list[str] = Field(default_factory=list)

    _sectors = field_validator("sectors")(classmethod(lambda cls, v: _check_sectors(v)))
    _subfields = field_validator("subfields")(classmethod(lambda cls, v: _check_subfields(v)))
    _keywords = field_validator("keywords")(classmethod(lambda cls, v: _check_keywords(v)))

    @field_validator("ipc")
    @classmethod
    def _ipc(cls, values: list[str]) -> list[str]:
        return each(values, normalize_ipc_prefix)

    def watches_something(self) -> bool:
        return any(getattr(self, k) for k in SCOPE_KEYS)

    @field_validator("own_patents")
    @classmethod
    def _numbers(cls, values: list[str]) -> list[str]:
        return ["".join(v.split()).upper() for v in values]


class SubscriptionSpec(_Strict):
    name: str = Field(default="default", min_length=1, max_length=120)
    scope: Scope = Field(default_factory=Scope)
    frequency: Frequency = "immediate"
    #: "22:00-07:00" in the configured time zone: immediate mail waits until the end
    quiet_hours: str | None = None
    daily_cap: int | None = Field(default=None, ge=1)
    active: bool = True

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is None:
            return None
        start, sep, end = value.replace(" ", "").partition("-")
        if not (sep and _HHMM.match(start) and _HHMM.match(end)):
            raise ValueError("must be HH:MM-HH:MM, e.g. '22:00-07:00'")
        return f"{start}-{end}"

    @property
    def quiet_start(self) -> str | None:
        return self.quiet_hours.split("-")[0] if self.quiet_hours else None

    @property
    def quiet_end(self) -> str | None:
        return self.quiet_hours.split("-")[1] if self.quiet_hours else None


class EnterpriseSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    name: str = Field(min_length=1)
    recipients: list[str] = Field(default_factory=list)
    subscriptions: list[SubscriptionSpec] = Field(min_length=1)

    @field_validator("recipients")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        return check_recipients(values)

    @model_validator(mode="after")
    def _reaches_someone(self) -> EnterpriseSpec:
        # repeated subscription names are reported by the file loader, with their lines
        active = [s for s in self.subscriptions if s.active]
        blind = [s.name for s in active if not s.scope.watches_something()]
        if blind:
            raise ValueError(
                f"subscription {blind[0]!r}: the scope watches nothing; give at least one of "
                + ", ".join(SCOPE_KEYS)
                + " (or set active: false)"
            )
        if active and not self.recipients:
            raise ValueError(
                "recipients is empty, so its alerts would reach nobody; give at least one "
                "address, or set active: false on every subscription to unsubscribe"
            )
        return self


class SubscriptionFile(_Strict):
    enterprises: list[EnterpriseSpec]


# --- located problems ------------------------------------------------------------------------

_MODEL_AT: dict[str, type[BaseModel]] = {
    "when": Conditions,
    "aggregate": AggregateSpec,
    "scope": Scope,
    "subscriptions": SubscriptionSpec,
    "enterprises": EnterpriseSpec,
}


def _model_for(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel]:
    model = root
    for part in loc[:-1]:
        if isinstance(part, str) and part in _MODEL_AT:
            model = _MODEL_AT[part]
    return model


def problems_from(
    exc: ValidationError, located: Located, root: type[BaseModel], base: PathKey = ()
) -> list[Problem]:
    """One ``FILE:LINE: field.path: message`` problem per pydantic error, with did-you-mean."""
    problems = []
    for err in exc.errors():
        loc = tuple(
            p
            for p in err["loc"]
            if not (isinstance(p, str) and p.startswith(("function-after", "literal[")))
        )
        loc = tuple(p for p in loc if p not in ("str", "list[str]", "list[...]"))
        path = (*base, *loc)
        field = field_path(path)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = [k for k in _model_for(loc, root).model_fields]
            hint = did_you_mean(str(loc[-1]), known)
            message = "unknown key" + (hint or f"; known keys: {', '.join(known)}")
        elif err["type"] == "literal_error":
            expected = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            message += did_you_mean(str(err.get("input")), expected)
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append(
            Problem(message, file=located.file, line=located.line_of(path), field=field or None)
        )
    return problems
