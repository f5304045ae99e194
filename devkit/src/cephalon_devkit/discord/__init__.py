"""A local Discord for tests and local mode: REST API, gateway WebSocket, signed HTTP
interactions, and Discord's limits (buckets, global limit, 2000 characters, embed
limits, channel caps, permissions, interaction deadlines, invalid-request counter).

The real discord.py talks to it unchanged; see ``docs/discord-emulator.md``.
"""

from cephalon_devkit.discord import permissions
from cephalon_devkit.discord.errors import ApiError, DiscordEmulatorError
from cephalon_devkit.discord.gateway import GatewaySession
from cephalon_devkit.discord.interactions import Interaction
from cephalon_devkit.discord.limits import BucketRule, DiscordLimits
from cephalon_devkit.discord.recording import RecordedDispatch, RecordedRequest
from cephalon_devkit.discord.rest import Fault
from cephalon_devkit.discord.server import DiscordEmulator, new_bot_token
from cephalon_devkit.discord.state import Application, Channel, Guild, Message, Role, User
from cephalon_devkit.discord.transcript import Button, TranscriptEntry

__all__ = [
    "ApiError",
    "Application",
    "BucketRule",
    "Button",
    "Channel",
    "DiscordEmulator",
    "DiscordEmulatorError",
    "DiscordLimits",
    "Fault",
    "GatewaySession",
    "Guild",
    "Interaction",
    "Message",
    "RecordedDispatch",
    "RecordedRequest",
    "Role",
    "TranscriptEntry",
    "User",
    "new_bot_token",
    "permissions",
]
