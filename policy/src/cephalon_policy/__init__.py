"""Loading and merging RULES.md, AGENTS.md, skills and MCP config into one policy snapshot."""
