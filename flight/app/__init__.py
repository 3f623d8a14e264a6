"""Assembling a node from its TOML configuration, running it, and supervising the process."""
