"""Bearer tokens, roles and meldkamer region scope.

Secrets are shown once at creation and stored only as sha256: a leaked store does not leak
usable tokens. A token belongs to one role and one region ("*" = every region); a Region row
names the municipalities (CBS codes) of one meldkamer.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import EngineError, InvalidInput, NotFound
from engine.store.base import utcnow
from engine.store.ops import ApiToken, Region

ROLES = ("centralist", "telecom-admin", "relatiebeheer", "auditor", "admin")
ALL_REGIONS = "*"
_SECRET_PREFIX = "bnet_"


class Unauthenticated(EngineError):
    code = "unauthenticated"
    status = 401


class Forbidden(EngineError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    region: str

    @property
    def all_regions(self) -> bool:
        return self.role == "admin" or self.region == ALL_REGIONS

    def may_see_region(self, region: str) -> bool:
        return self.all_regions or region == self.region

    @property
    def actor(self) -> str:
        """How this principal appears in the dossier."""
        return f"{self.role}:{self.name}"


@dataclass(frozen=True)
class CreatedToken:
    token_id: str
    secret: str
    expires_at: datetime | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, role: str, region: str, expires_days: float | None = None
) -> CreatedToken:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}", code="bad_role")
    if not name.strip() or not region.strip():
        raise InvalidInput("name and region must not be empty", code="bad_token_spec")
    secret = _SECRET_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(6)
    expires = utcnow() + timedelta(days=expires_days) if expires_days is not None else None
    session.add(
        ApiToken(
            id=token_id,
            secret_hash=hash_secret(secret),
            name=name,
            role=role,
            region=region,
            expires_at=expires,
        )
    )
    session.flush()
    return CreatedToken(token_id, secret, expires)


def revoke_token(session: Session, token_id: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}", code="token_not_found")
    token.revoked = True


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal behind an ``Authorization: Bearer`` header, or :class:`Unauthenticated`."""
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer token is required", code="missing_token")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("use Authorization: Bearer <token>", code="invalid_token")
    token = session.scalar(
        select(ApiToken).where(ApiToken.secret_hash == hash_secret(secret.strip()))
    )
    if token is None or token.revoked:
        raise Unauthenticated("the token is unknown or revoked", code="invalid_token")
    if token.expires_at is not None and _aware(token.expires_at) <= utcnow():
        raise Unauthenticated("the token has expired", code="token_expired")
    return Principal(token.id, token.name, token.role, token.region)


def authorize(principal: Principal, roles: Iterable[str]) -> Principal:
    allowed = set(roles) | {"admin"}
    if principal.role not in allowed:
        raise Forbidden(
            f"role {principal.role} may not do this (needs {', '.join(sorted(allowed))})",
            code="forbidden_role",
        )
    return principal


def require(*roles: str) -> Callable[[Request], Principal]:
    """FastAPI dependency: ``principal: Principal = Depends(require("centralist"))``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def dependency(request: Request) -> Principal:
        factory = request.app.state.deps.session_factory
        with factory() as session:
            principal = authenticate(session, request.headers.get("authorization"))
        return authorize(principal, roles)

    return dependency


AnyPrincipal = Annotated[Principal, Depends(require(*ROLES))]


# --- regions ---------------------------------------------------------------------------------


def set_region(session: Session, name: str, municipality_codes: Iterable[str]) -> Region:
    codes = sorted({c.strip().upper() for c in municipality_codes if c.strip()})
    if not name.strip() or name == ALL_REGIONS:
        raise InvalidInput("a region needs a name other than '*'", code="bad_region")
    bad = [c for c in codes if not (c.startswith("GM") and c[2:].isdigit() and len(c) == 6)]
    if bad or not codes:
        raise InvalidInput(f"municipality codes look like GM0150, got {bad or 'none'}",
                           code="bad_region")
    region = session.get(Region, name)
    if region is None:
        region = Region(name=name, municipality_codes=codes)
        session.add(region)
    else:
        region.municipality_codes = codes
    session.flush()
    return region


def list_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.name)))


def region_of_municipality(session: Session, municipality_code: str, default: str) -> str:
    """The meldkamer region containing a municipality; ``default`` when no region claims it."""
    for region in list_regions(session):
        if municipality_code in region.municipality_codes:
            return region.name
    return default
