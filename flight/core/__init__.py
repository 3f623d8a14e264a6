"""The flight framework: components, software bus, rate groups, clocks and the PUS services."""
