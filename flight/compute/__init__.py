"""Compute: tenant jobs run inside the power grant and thermal headroom, and metered in compute tokens."""
