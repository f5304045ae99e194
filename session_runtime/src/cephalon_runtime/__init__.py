"""Session pod runtime: the agent loop on the GitHub Copilot SDK with MCP tools."""
