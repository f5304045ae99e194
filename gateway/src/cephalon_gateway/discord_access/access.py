"""Who may do what: the tenant's allow rules, session ownership and approver roles.
Pure functions over the tenant spec and what Discord told us about the user."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cephalon_contracts.resources import ProviderTenantSpec

from .errors import ForbiddenError


@dataclass(frozen=True, slots=True)
class Actor:
    """The Discord user behind an interaction or a message."""

    user_id: str
    name: str
    roles: frozenset[str] = frozenset()
    guild_id: str | None = None
    channel_id: str | None = None


def check_allowed(spec: ProviderTenantSpec, actor: Actor) -> None:
    """Raise :class:`ForbiddenError` unless the tenant's guild, channel and role rules
    let ``actor`` start a session here. Empty lists allow everything."""
    allow = spec.allow
    if allow.guilds and actor.guild_id not in allow.guilds:
        raise ForbiddenError("Cephalon is not enabled in this server.")
    channels = set(allow.channels) | set(spec.gateway.start_chat_channels)
    if allow.channels and actor.channel_id not in channels:
        raise ForbiddenError("Cephalon is not enabled in this channel.")
    if allow.roles and not actor.roles & set(allow.roles):
        raise ForbiddenError("You need one of the roles this server allows to use Cephalon.")


def may_drive(spec: ProviderTenantSpec, actor: Actor, owner_id: str) -> bool:
    """The owner, or anyone with one of the tenant's operator roles."""
    return actor.user_id == owner_id or bool(actor.roles & set(spec.gateway.operator_roles))


def may_approve(spec: ProviderTenantSpec, actor: Actor, owner_id: str) -> bool:
    roles: Collection[str] = set(spec.approvals.roles) | set(spec.gateway.operator_roles)
    return actor.user_id == owner_id or bool(actor.roles & set(roles))


def require_driver(spec: ProviderTenantSpec, actor: Actor, owner_id: str) -> None:
    if not may_drive(spec, actor, owner_id):
        raise ForbiddenError("Only the owner of this session can do that.")
