"""Ctrl-C in the terminal that started `gridfree console` closes it, as the close button would."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading


def test_ctrl_c_closes_the_console_and_exits_130(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as peer:  # a radio that accepts and stays quiet
        url = f"tcp://127.0.0.1:{peer.getsockname()[1]}"
        (tmp_path / "dictionary.json").write_text(subprocess.run(
            [sys.executable, "-m", "gridfree.protocols.cli", "dict"], capture_output=True, text=True,
            timeout=60, check=True).stdout)
        proc = subprocess.Popen([sys.executable, "-m", "gridfree.protocols.cli", "console", "--link", url,
                                 "--dict", str(tmp_path / "dictionary.json"), "--settings", str(tmp_path / "s.ini")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        ready, said = threading.Event(), []

        def read():
            for line in proc.stderr:
                said.append(line)
                if "Ctrl-C" in line:  # the window is up and the event loop about to run
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert ready.wait(60), "".join(said)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(5)
            proc.stderr.close()
    assert not any("Traceback" in line for line in said), "".join(said)
    assert (tmp_path / "s.ini").exists()  # closed as a window is closed: its layout saved
