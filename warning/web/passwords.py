"""Password and token hashing: argon2id for passwords, SHA-256 for high-entropy random tokens.

Session ids and API tokens are 256-bit random values, so a fast hash is enough to keep a stolen
database from yielding usable cookies or tokens; passwords are low-entropy and get argon2id.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory defaults

#: shortest password accepted (the generated ones are 20 characters)
MIN_PASSWORD_LENGTH = 10
#: a hash of a random password, verified when the account does not exist (same timing)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """True when ``password`` matches; an unknown account costs the same time as a wrong one."""
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _hasher.check_needs_rehash(encoded)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def new_token(prefix: str = "") -> str:
    """A random URL-safe token (256 bits) with an optional readable prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
