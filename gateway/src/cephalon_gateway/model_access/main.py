"""``cephalon-model-gateway``: run the model gateway (one Deployment per tenant)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .errors import ConfigError
from .logs import configure_process_logging
from .redaction import Redactor
from .settings import GatewaySettings, load_credentials

DESCRIPTION = """\
The Cephalon model gateway: an OpenAI-compatible API for the tenant's session pods
that checks each request's session token in Redis and forwards it to the tenant's
model provider with the tenant's key, which only this process reads.

Configured by environment variables (prefix CEPHALON_, nested with __), e.g.
CEPHALON_PROVIDER, CEPHALON_TENANT, CEPHALON_TOPIC_ROOT, CEPHALON_REDIS__URL,
CEPHALON_REDIS__USERNAME_FILE, CEPHALON_REDIS__PASSWORD_FILE, CEPHALON_HTTP__PORT,
CEPHALON_MODEL__UPSTREAM_KIND (openai|azure|anthropic), CEPHALON_MODEL__UPSTREAM_BASE_URL,
CEPHALON_MODEL__DEFAULT, CEPHALON_MODEL__ALLOWED (comma-separated),
CEPHALON_MODEL__UPSTREAM_KEY_FILE, CEPHALON_BUDGET__SESSION_TOKENS,
CEPHALON_BUDGET__TENANT_TOKENS_PER_DAY, CEPHALON_BUDGET__TENANT_CONCURRENCY.
See docs/model-gateway.md for all of them and their defaults.
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cephalon-model-gateway",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="listen address (default: CEPHALON_HTTP__HOST)")
    parser.add_argument("--port", type=int, help="listen port (default: CEPHALON_HTTP__PORT)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the settings and credential files, then exit",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    redactor = Redactor()
    configure_process_logging(redactor)
    log = logging.getLogger("cephalon_gateway.model_access")
    try:
        settings = GatewaySettings()
        credentials = load_credentials(settings)
        for secret in credentials.secret_values():
            redactor.add(secret)
        logging.getLogger().setLevel(settings.log.level.upper())
        app = create_app(settings, credentials, redactor=redactor)
    except (ConfigError, ValidationError) as e:
        log.error("cephalon-model-gateway: invalid configuration: %s", e)
        return 2
    if args.check:
        log.info("cephalon-model-gateway: configuration is valid")
        return 0
    uvicorn.run(
        app,
        host=args.host or settings.http.host,
        port=args.port or settings.http.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
