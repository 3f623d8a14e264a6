"""The telemetry archive: every received frame kept on disk, crash-safe, and found again by time."""
