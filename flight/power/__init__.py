"""Power management: state of charge, under-voltage protection, load shedding, the power grant."""
