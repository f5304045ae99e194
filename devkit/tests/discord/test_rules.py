"""The pure rules against exact expected values: form error trees, the overwrite
algorithm, buckets and the invalid-request counter."""

from __future__ import annotations

import pytest

from cephalon_devkit.discord import BucketRule, DiscordLimits
from cephalon_devkit.discord import permissions as p
from cephalon_devkit.discord.errors import ApiError
from cephalon_devkit.discord.permissions import Overwrite, OverwriteType
from cephalon_devkit.discord.ratelimit import RateLimiter
from cephalon_devkit.discord.validation import check_message

LIMITS = DiscordLimits()


def errors_of(body: dict[str, object], files: list[int] | None = None) -> ApiError:
    with pytest.raises(ApiError) as err:
        check_message(body, file_sizes=files or [], limits=LIMITS, creating=True)
    return err.value


def test_form_error_tree_matches_discord():
    err = errors_of({"content": "x" * 2001, "embeds": [{"title": "t" * 257}]})
    assert (err.status, err.code) == (400, 50035)
    assert err.body() == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            },
            "embeds": {
                "0": {
                    "title": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 256 or fewer in length.",
                            }
                        ]
                    }
                }
            },
        },
    }


def test_component_rules():
    row = {"type": 1, "components": [{"type": 2, "custom_id": "a", "label": "A"}] * 2}
    err = errors_of({"components": [row]})
    assert err.errors == {
        "components": {
            "0": {
                "components": {
                    "1": {
                        "custom_id": {
                            "_errors": [
                                {
                                    "code": "COMPONENT_CUSTOM_ID_DUPLICATED",
                                    "message": "Component custom id cannot be duplicated",
                                }
                            ]
                        }
                    }
                }
            }
        }
    }
    long_id = {"type": 1, "components": [{"type": 2, "custom_id": "c" * 101}]}
    assert "custom_id" in str(errors_of({"components": [long_id]}).errors)
    assert errors_of({"components": [row] * 6}).errors == {
        "components": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 5 or fewer in length."}
            ]
        }
    }


def test_empty_too_large_and_nonce():
    assert errors_of({"content": ""}).code == 50006
    big = errors_of({"content": "x"}, files=[LIMITS.upload_max_bytes + 1])
    assert (big.status, big.code) == (413, 40005)
    assert "nonce" in (errors_of({"content": "x", "nonce": "n" * 26}).errors or {})
    check_message({"content": "x", "nonce": 12345}, file_sizes=[], limits=LIMITS, creating=True)


def test_overwrites_follow_discords_order():
    guild, member, role = 1, 2, 3
    base = p.base_permissions(is_owner=False, everyone=p.DEFAULT_EVERYONE, role_permissions=[])
    overwrites = [
        Overwrite(guild, OverwriteType.ROLE, deny=p.VIEW_CHANNEL),
        Overwrite(role, OverwriteType.ROLE, allow=p.VIEW_CHANNEL, deny=p.SEND_MESSAGES),
        Overwrite(member, OverwriteType.MEMBER, allow=p.SEND_MESSAGES),
    ]

    def perms(roles: list[int], who: int = member) -> int:
        return p.apply_overwrites(
            base, guild_id=guild, member_id=who, member_roles=roles, overwrites=overwrites
        )

    assert perms([]) & p.VIEW_CHANNEL == 0 and perms([]) == 0  # no view: nothing
    assert perms([role]) & (p.VIEW_CHANNEL | p.SEND_MESSAGES) == (
        p.VIEW_CHANNEL | p.SEND_MESSAGES
    )  # member allow beats role deny
    assert perms([role], who=9) & p.SEND_MESSAGES == 0
    admin = p.base_permissions(is_owner=False, everyone=0, role_permissions=[p.ADMINISTRATOR])
    assert admin == p.ALL
    assert p.base_permissions(is_owner=True, everyone=0, role_permissions=[]) == p.ALL


def test_bucket_window_and_headers():
    limiter = RateLimiter(DiscordLimits(buckets={"r": BucketRule(2, 10.0)}))
    first = limiter.take("r", "1", now=100.0)
    assert first.allowed and first.headers["X-RateLimit-Remaining"] == "1"
    assert first.headers["X-RateLimit-Reset-After"] == "10.000"
    assert limiter.take("r", "1", now=101.0).allowed
    third = limiter.take("r", "1", now=102.0)
    assert not third.allowed and third.retry_after == pytest.approx(8.0)
    assert third.headers["Retry-After"] == "8" and third.headers["Via"] == "1.1 google"
    assert limiter.take("r", "2", now=102.0).allowed  # another channel, another bucket
    assert limiter.take("r", "1", now=110.0).allowed  # the window reset


def test_invalid_counter_window_and_shared_scope():
    limiter = RateLimiter(DiscordLimits(invalid_request_limit=3, invalid_request_window=10))
    assert limiter.count_invalid(401, None, now=0.0)
    assert limiter.count_invalid(403, None, now=1.0)
    assert not limiter.count_invalid(429, "shared", now=2.0)
    assert not limiter.count_invalid(404, None, now=2.0)
    assert limiter.count_invalid(429, "user", now=3.0)
    assert limiter.banned(now=3.0)
    assert limiter.invalid_count(now=10.5) == 2 and not limiter.banned(now=10.5)


def test_global_limit_is_a_sliding_second():
    limiter = RateLimiter(DiscordLimits(global_per_second=2))
    assert limiter.take_global(now=0.0).allowed
    assert limiter.take_global(now=0.5).allowed
    blocked = limiter.take_global(now=0.9)
    assert not blocked.allowed and blocked.is_global
    assert blocked.retry_after == pytest.approx(0.1)
    assert limiter.take_global(now=1.0).allowed


def test_embed_urls_colors_and_buttons():
    err = errors_of(
        {
            "embeds": [
                {
                    "title": "x",
                    "url": "ftp://x",
                    "color": 1 << 24,
                    "image": {"url": "attachment://plan.png"},
                    "author": {"name": "a", "icon_url": "javascript:1"},
                }
            ]
        }
    )
    tree = err.errors["embeds"]["0"]  # type: ignore[index]
    assert set(tree) == {"url", "color", "author"}
    assert tree["url"]["_errors"][0]["code"] == "URL_TYPE_INVALID_SCHEME"
    assert set(tree["author"]) == {"icon_url"}
    link_without_url = {"type": 1, "components": [{"type": 2, "style": 5, "label": "Docs"}]}
    assert errors_of({"components": [link_without_url]}).errors == {
        "components": {
            "0": {
                "components": {
                    "0": {
                        "url": {
                            "_errors": [
                                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                            ]
                        }
                    }
                }
            }
        }
    }
    no_id = {"type": 1, "components": [{"type": 2, "style": 1, "label": "Go"}]}
    assert "custom_id" in str(errors_of({"components": [no_id]}).errors)
