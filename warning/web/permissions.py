"""Who may do what: the one authorisation check every page and API route calls.

A route declares the permission it needs (``Depends(need("alerts.read"))``), which
authenticates the caller and checks the role; a route that loads a tenant's object calls
:func:`authorize` again with the object's enterprise. An enterprise user asking for another
enterprise's object gets 404 (never 403: the object's existence is not disclosed).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "bureau", "expert", "enterprise")
ROLE_NAMES_ZH = {"admin": "管理员", "bureau": "知识产权局", "expert": "专家", "enterprise": "企业"}

#: permission -> roles that hold it. Tenant-scoped permissions are also limited to the
#: caller's own enterprise for the ``enterprise`` role (see TENANT_SCOPED).
PERMISSIONS: dict[str, frozenset[str]] = {
    "console.use": frozenset(ROLES),
    "alerts.read": frozenset(ROLES),
    "alerts.feedback": frozenset({"enterprise", "admin"}),
    "subscriptions.read": frozenset({"enterprise", "bureau", "admin"}),
    "subscriptions.edit": frozenset({"enterprise", "bureau", "admin"}),
    "silences.edit": frozenset({"enterprise", "bureau", "admin"}),
    "dashboard.read": frozenset({"bureau", "expert", "admin"}),
    "enterprises.manage": frozenset({"bureau", "admin"}),
    "digests.read": frozenset({"bureau", "admin"}),
    "digests.approve": frozenset({"bureau", "admin"}),
    "rules.read": frozenset({"expert", "bureau", "admin"}),
    "rules.edit": frozenset({"expert", "admin"}),
    "audit.read": frozenset({"admin"}),
    #: forecasts, the dispute index and the indicators are aggregate statistics: every role
    "forecasts.read": frozenset(ROLES),
    "indicators.read": frozenset(ROLES),
    "users.manage": frozenset({"admin", "bureau"}),
    #: full-text search and on-demand screening of the (public) stored documents
    "search.use": frozenset(ROLES),
}

#: permissions whose objects belong to one enterprise
TENANT_SCOPED = frozenset(
    {"alerts.read", "alerts.feedback", "subscriptions.read", "subscriptions.edit", "silences.edit"}
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    email: str
    role: str
    enterprise_id: str | None
    #: "session" (browser, CSRF applies) or "token" (API Bearer token)
    via: str = "session"
    csrf_token: str = ""

    @property
    def role_zh(self) -> str:
        return ROLE_NAMES_ZH.get(self.role, self.role)

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


class AccessDenied(Exception):
    """Raised by :func:`authorize`; ``status`` is 401, 403 or 404 and the handler answers it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_UNSET = object()


def authorize(
    principal: Principal | None, permission: str, enterprise_id: str | object | None = _UNSET
) -> Principal:
    """The caller, if it may use ``permission`` (on an object of ``enterprise_id`` if given).

    401 without a caller, 403 when the role lacks the permission, 404 when an enterprise user
    reaches for an object of another enterprise (or of none).
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if principal is None:
        raise AccessDenied(401, "请先登录 (authentication required)")
    if principal.role not in PERMISSIONS[permission]:
        raise AccessDenied(
            403,
            f"角色“{principal.role_zh}”无权执行此操作 ({permission} not allowed for {principal.role})",
        )
    if (
        enterprise_id is not _UNSET
        and permission in TENANT_SCOPED
        and principal.role == "enterprise"
        and enterprise_id != principal.enterprise_id
    ):
        raise AccessDenied(404, "未找到 (not found)")
    return principal


def tenant_filter(principal: Principal) -> str | None:
    """The enterprise a caller's queries are limited to; None means every enterprise."""
    return principal.enterprise_id if principal.role == "enterprise" else None
