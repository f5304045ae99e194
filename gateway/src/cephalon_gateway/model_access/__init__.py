"""The model gateway: the OpenAI-compatible egress proxy between session pods and the
tenant's real model provider (ARCHITECTURE §4).

A session pod's Copilot CLI uses it as its BYOK provider with a session-scoped bearer
token; only this component holds the tenant's upstream key. Per request it checks the
token in Redis, enforces the model allowlist, token budgets and concurrency, forwards to
the upstream (OpenAI, Azure OpenAI or Anthropic, translated), streams the answer back
unbuffered and records usage.

Modules: :mod:`.settings` (configuration), :mod:`.errors` (the exception tree and the
OpenAI-style error bodies), :mod:`.redaction` and :mod:`.logs` (credential-free logs),
:mod:`.auth` (bearer tokens), :mod:`.usage` (usage records and budgets),
:mod:`.concurrency` (the tenant's in-flight limit), :mod:`.retrying` and
:mod:`.breaker` (transient failures), :mod:`.sse` (server-sent events),
:mod:`.upstreams` and :mod:`.anthropic` (provider wire formats), :mod:`.proxy` (one
completion end to end), :mod:`.metrics`, :mod:`.app` (routes), :mod:`.main` (the
``cephalon-model-gateway`` command).
"""
