"""The operator console: a PySide6 desktop program over anything shaped like a `GroundClient`.

The console never decodes and never talks to a link itself: it subscribes to a client (a live
`GroundClient`, or a `ReplayClient` with `is_replay = True`) and shows what the client decoded,
so a live pass and the replay of its recording look the same. Importing this package is cheap;
Qt is loaded by the modules that need it.
"""
