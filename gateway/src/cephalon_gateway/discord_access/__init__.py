"""The Discord gateway: Cephalon's access layer for one Discord tenant.

One process per tenant replica (``cephalon-gateway``): a FastAPI app for signed HTTP
interactions, ``/healthz``, ``/readyz`` and ``/metrics``; discord.py for the gateway
WebSocket (messages in session channels) and for REST, behind one Redis-backed rate
limiter shared by all replicas. Only this package imports ``discord`` and reads the
bot token.
"""
