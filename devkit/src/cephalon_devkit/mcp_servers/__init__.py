"""Small MCP servers for local mode and tests, run as sidecar processes.

Each one is built with the ``mcp`` package's server API and serves streamable HTTP on
``127.0.0.1``, configured the way the operator configures a sidecar (``MCP_HOST``,
``MCP_PORT``, ``MCP_PATH``, ``MCP_WORKSPACE``) or with command-line flags:

    python -m cephalon_devkit.mcp_servers.workspace --port 8931 --root /workspace
"""
