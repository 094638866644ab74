"""The normalised document record: what parsers emit, `ipwarn parse` prints and the store ingests.

One schema for every source (CNIPA XML/gazette/transactions, USPTO, EPO OPS) so that later
stages never care where a document came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warning.ipc import normalize_ipc_list
from warning.text import scrub


class _Scrubbed(BaseModel):
    """Crawled text is scrubbed (:func:`warning.text.scrub`): a NUL in a gazette row is no text,
    and PostgreSQL would refuse the whole file's transaction for it."""

    @model_validator(mode="before")
    @classmethod
    def _scrub(cls, data: Any) -> Any:
        return scrub(data)


class LegalEventRecord(_Scrubbed):
    model_config = ConfigDict(extra="forbid")

    code: str
    date: dt.date
    description: str = ""
    #: CN/INPADOC category, e.g. "termination", "transfer" (from the code table)
    category: str | None = None
    parties: dict[str, Any] = Field(default_factory=dict)


class DocumentRecord(_Scrubbed):
    """One patent document in the `ipwarn parse` JSON format."""

    model_config = ConfigDict(extra="ignore")

    office: str
    #: publication number with kind, e.g. CN115212463A, US8930553B2
    number: str
    kind: str
    title: str = ""
    abstract: str = ""
    claims: str = ""
    applicants: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)
    inventors: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)
    publication_date: dt.date | None = None
    application_date: dt.date | None = None
    application_number: str | None = None
    language: str = "zh"
    legal_events: list[LegalEventRecord] = Field(default_factory=list)
    source: str = "file"
    raw_ref: str | None = None

    @field_validator("office", "kind")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("number")
    @classmethod
    def _compact(cls, value: str) -> str:
        value = "".join(value.split()).upper()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("ipc")
    @classmethod
    def _normalise_ipc(cls, value: list[str]) -> list[str]:
        return normalize_ipc_list(value)

    def content_hash(self) -> str:
        """Hash of the bibliographic content (not of legal events, source or raw reference)."""
        data = self.model_dump(mode="json", exclude={"legal_events", "source", "raw_ref"})
        blob = json.dumps(data, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", exclude={"source", "raw_ref"}), ensure_ascii=False
        )


def split_number(number: str) -> tuple[str, str, str]:
    """ "CN115212463A" -> ("CN", "115212463", "A"); "US8930553B2" -> ("US", "8930553", "B2")."""
    compact = "".join(number.split()).upper()
    match = _NUMBER.match(compact)
    if not match:
        return compact[:2], compact[2:], ""
    return match.group(1), match.group(2), match.group(3) or ""


_NUMBER = re.compile(r"^([A-Z]{2})(.*?\d)([A-Z]\d?)?$")
