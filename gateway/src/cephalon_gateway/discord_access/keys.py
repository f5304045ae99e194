"""Redis keys and stream names of one tenant's gateway.

Streams shared with other components come from :mod:`cephalon_contracts` (topics,
blob keys). The gateway's own state (dedupe marks, render state, the rate limiter)
lives under ``<root>.p.<provider>.t.<tenant>.gateway.*``: inside the prefix the
gateway's Redis user is confined to, and outside every session's own prefix, so a
session runtime cannot touch it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cephalon_contracts import session_topic, topic
from cephalon_contracts.keys import blob_key


@dataclass(frozen=True, slots=True)
class KeySpace:
    provider: str
    tenant: str
    root: str

    def gateway(self, name: str) -> str:
        return topic(
            provider=self.provider, tenant=self.tenant, area="gateway", name=name, root=self.root
        )

    def session_stream(self, session_id: str, stream: str) -> str:
        return session_topic(
            provider=self.provider,
            tenant=self.tenant,
            session_id=session_id,
            stream=stream,
            root=self.root,
        )

    def turns(self, session_id: str) -> str:
        return self.session_stream(session_id, "turns")

    def events(self, session_id: str) -> str:
        return self.session_stream(session_id, "events")

    def control(self, session_id: str) -> str:
        return self.session_stream(session_id, "control")

    def blob(self, session_id: str, sha256: str) -> str:
        return blob_key(
            provider=self.provider,
            tenant=self.tenant,
            session_id=session_id,
            sha256=sha256,
            root=self.root,
        )

    @property
    def social_created(self) -> str:
        return topic(
            provider=self.provider,
            tenant=self.tenant,
            area="social",
            name="message.created",
            root=self.root,
        )

    @property
    def social_post(self) -> str:
        return topic(
            provider=self.provider,
            tenant=self.tenant,
            area="social",
            name="message.post",
            root=self.root,
        )
