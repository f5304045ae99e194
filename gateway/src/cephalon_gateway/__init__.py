"""Access layer: Discord gateway and model gateway (the only place holding long-lived secrets)."""
