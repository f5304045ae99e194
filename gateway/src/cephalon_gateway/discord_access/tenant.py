"""The tenant's ProviderTenant spec, read through the Kubernetes API and refreshed
periodically (allow rules, quotas, attachments, approvals change without a restart)."""

from __future__ import annotations

import asyncio

import structlog
from pydantic import ValidationError

from cephalon_contracts.resources import ProviderTenantSpec

from .errors import ConfigError, KubeError
from .kube import PROVIDER_TENANTS, KubeClient

log = structlog.get_logger(__name__)


class TenantConfig:
    """Holds the current spec; ``spec`` is replaced as a whole on refresh."""

    def __init__(self, kube: KubeClient, name: str) -> None:
        self._kube = kube
        self.name = name
        self._spec: ProviderTenantSpec | None = None

    @property
    def spec(self) -> ProviderTenantSpec:
        if self._spec is None:
            raise ConfigError(f"ProviderTenant {self.name} is not loaded yet")
        return self._spec

    @property
    def loaded(self) -> bool:
        return self._spec is not None

    async def load(self) -> ProviderTenantSpec:
        obj = await self._kube.get(PROVIDER_TENANTS, self.name)
        if obj is None:
            raise ConfigError(f"ProviderTenant {self.name} does not exist")
        try:
            self._spec = ProviderTenantSpec.model_validate(obj.get("spec") or {})
        except ValidationError as e:
            raise ConfigError(f"ProviderTenant {self.name} has an invalid spec: {e}") from e
        return self._spec

    async def refresh_forever(self, interval: float = 30.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.load()
            except (ConfigError, KubeError) as e:
                log.warning("tenant_refresh_failed", tenant=self.name, error=str(e))
