"""Name rules shared by topics, URNs, envelopes and custom resources.

A *segment* is what may stand between two dots of a topic or two colons of a URN:
lower-case ASCII letters and digits, with ``-`` or ``_`` inside (never at an end).
Providers and tenants are segments that also serve in Kubernetes names, so they are
further limited to letters, digits and ``-`` and to 30 characters.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

SEGMENT_PATTERN = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"
PROVIDER_PATTERN = r"^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$"
SESSION_ID_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"

SEGMENT_RE = re.compile(SEGMENT_PATTERN)
PROVIDER_RE = re.compile(PROVIDER_PATTERN)

#: A chat provider's name: ``discord``, ``slack``, ``bluesky``...
ProviderName = Annotated[str, StringConstraints(pattern=PROVIDER_PATTERN)]
#: A tenant's name within a provider: ``duck``.
TenantName = Annotated[str, StringConstraints(pattern=PROVIDER_PATTERN)]
#: A session id; it is also the AgentSession's ``metadata.name`` (a DNS label).
SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
#: W3C trace-context trace id: 32 lower-case hex digits.
TraceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
