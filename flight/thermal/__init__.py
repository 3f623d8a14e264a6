"""Thermal management: survival heaters, compute throttling with hysteresis, thermal headroom."""
