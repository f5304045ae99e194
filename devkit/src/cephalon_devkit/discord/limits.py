"""Discord's limits as the emulator enforces them; every number is configurable.

Defaults equal Discord's documented (or, where undocumented, observed) values, so an
emulator made with ``DiscordLimits()`` refuses what Discord refuses. Tests shrink the
windows (``DiscordLimits(interaction_deadline=0.3, ...)``) to stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class BucketRule:
    """A per-route bucket: ``limit`` requests per ``window`` seconds, counted per major
    parameter (channel, guild or webhook) as Discord does."""

    limit: int
    window: float


def _default_buckets() -> Mapping[str, BucketRule]:
    # Route names are the ``name`` of each REST route (see ``rest.ROUTES``). Values
    # are what Discord answers in its X-RateLimit-* headers for a bot.
    return MappingProxyType(
        {
            "create_message": BucketRule(5, 5.0),
            "edit_message": BucketRule(5, 5.0),
            "delete_message": BucketRule(5, 1.0),
            "typing": BucketRule(5, 5.0),
            "create_guild_channel": BucketRule(5, 5.0),
            "edit_channel": BucketRule(5, 5.0),
            "add_reaction": BucketRule(1, 0.25),
            "remove_own_reaction": BucketRule(1, 0.25),
            "execute_webhook": BucketRule(5, 2.0),
            "edit_webhook_message": BucketRule(5, 2.0),
        }
    )


@dataclass(frozen=True, slots=True)
class DiscordLimits:
    # --- rate limits -----------------------------------------------------------------
    default_bucket: BucketRule = BucketRule(5, 5.0)
    buckets: Mapping[str, BucketRule] = field(default_factory=_default_buckets)
    global_per_second: int = 50
    """Requests per second per bot across all routes (interaction routes excluded)."""
    channel_rename_limit: int = 2
    channel_rename_window: float = 600.0
    """Name/topic changes per channel: Discord's 2 per 10 minutes sub-limit."""
    invalid_request_limit: int = 10_000
    invalid_request_window: float = 600.0
    """401/403/429 answers allowed per window before the IP is banned (Cloudflare)."""
    # --- messages --------------------------------------------------------------------
    content_max: int = 2000
    embeds_max: int = 10
    embed_title_max: int = 256
    embed_description_max: int = 4096
    embed_fields_max: int = 25
    embed_field_name_max: int = 256
    embed_field_value_max: int = 1024
    embed_footer_max: int = 2048
    embed_author_max: int = 256
    embed_total_max: int = 6000
    action_rows_max: int = 5
    row_components_max: int = 5
    custom_id_max: int = 100
    button_label_max: int = 80
    attachments_max: int = 10
    upload_max_bytes: int = 10 * 1024 * 1024
    pins_max: int = 50
    attachment_url_ttl: float = 86_400.0
    """CDN links are signed (``ex``/``is``/``hm``) and expire like Discord's."""
    nonce_max_length: int = 25
    nonce_window: float = 300.0
    """How long ``enforce_nonce`` remembers a nonce (Discord: "a few minutes")."""
    # --- guilds ----------------------------------------------------------------------
    guild_channels_max: int = 500
    category_channels_max: int = 50
    command_creates_per_day: int = 200
    """New application commands per scope (global, or one guild) per day."""
    command_creates_window: float = 86_400.0
    # --- interactions ----------------------------------------------------------------
    interaction_deadline: float = 3.0
    """Seconds to send the initial response; after that callbacks get 10062."""
    interaction_token_ttl: float = 900.0
    """Seconds a token stays valid for follow-ups; after that 50027."""
    interaction_http_timeout: float = 10.0
    """How long the emulator waits for the endpoint's HTTP answer to record it."""
    # --- gateway ---------------------------------------------------------------------
    heartbeat_interval: float = 41.25
    heartbeat_timeout_factor: float = 2.0
    """A socket with no heartbeat for this many intervals is closed with 4009 (a
    short ``heartbeat_interval`` in tests catches a client whose event loop blocks)."""
    identify_max_concurrency: int = 1
    identify_window: float = 5.0
    """IDENTIFYs allowed per window (``max_concurrency``); more get op 9."""
    session_start_limit: int = 1000
    """IDENTIFYs per day; past it Discord resets the token (the emulator closes 4004)."""
    gateway_send_limit: int = 120
    gateway_send_window: float = 60.0
    """Frames a client may send per window; more closes the socket with 4008."""
    resume_window: float = 120.0
    """How long a disconnected session can still be resumed."""
    replay_buffer: int = 10_000

    def bucket_for(self, route_name: str) -> BucketRule:
        return self.buckets.get(route_name, self.default_bucket)
