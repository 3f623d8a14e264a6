"""The operator console: a PySide6 desktop program over any `TelemetrySource`.

The console never decodes and never talks to a link itself: it subscribes to a source (a live
`GroundClient`, or a `ReplayClient` of a recorded log; ground/link/source.py) and shows what the
source decoded, so a live pass and the replay of its recording look the same. What differs is
asked of the source's capabilities (`can_command`, `replay`), never of its class. Importing this
package is cheap; Qt is loaded by the modules that need it.
"""
