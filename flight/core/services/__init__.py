"""The PUS services the node offers, each a component that owns its commands and telemetry."""
