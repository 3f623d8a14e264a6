"""`gridfree node` / `python -m gridfree.flight`: run a node from its TOML configuration.

By default the node runs under a supervisor process that restarts it when it exits abnormally
(crash, commanded reboot, software watchdog) or stops sending its heartbeat, telling the new
instance why it was restarted; `--no-supervise` runs the node in this process.

Exit codes: 0 clean shutdown (SIGINT/SIGTERM), 2 configuration error, 3 commanded reboot,
4 software watchdog expired.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

EXIT_OK, EXIT_CONFIG, EXIT_REBOOT, EXIT_WATCHDOG = 0, 2, 3, 4


def run_node(config: str, reset_cause: str, heartbeat_fd: int | None, insecure: bool = False) -> int:
    from gridfree.flight.app.config import ConfigError, NodeConfig
    from gridfree.flight.app.node import Node
    from gridfree.flight.app.clockdriver import ClockDriver
    from gridfree.flight.core.health import SoftwareWatchdog
    from gridfree.protocols.links import LinkError, LinkReader, open_link

    exit_code = [EXIT_OK]
    node = None

    def reboot():
        exit_code[0] = EXIT_REBOOT
        node.stop_event.set()

    def expired(starved_s: float):
        print(f"gridfree node: software watchdog expired ({starved_s:.1f} s without a kick)", file=sys.stderr, flush=True)
        os._exit(EXIT_WATCHDOG)

    def heartbeat(_t=None):
        try:
            os.write(heartbeat_fd, b".")
        except OSError:
            pass  # the supervisor is gone; keep flying

    try:
        cfg = NodeConfig.load(config)
        watchdog = SoftwareWatchdog(cfg.watchdog_s, expired)
        beat = heartbeat if heartbeat_fd is not None and cfg.clock != "lockstep" else None
        node = Node(cfg, reset_cause=reset_cause, on_reboot=reboot, watchdog=watchdog, heartbeat=beat,
                    insecure=insecure)
    except (ConfigError, ValueError) as exc:
        print(f"gridfree node: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:  # the configuration, or a state directory it names, cannot be used
        print(f"gridfree node: {exc.filename or config}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG

    def on_signal(signum, _frame):
        node.stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        link = node.radio.open()
    except LinkError as exc:
        print(f"gridfree node: {cfg.raw.source if cfg.raw else config}: [radio] url: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if node.insecure:
        print(f"gridfree node {cfg.name}: INSECURE: no keys; anyone who reaches the radio commands this node "
              f"(run `gridfree keys init DIR` and set [security] keys)", file=sys.stderr, flush=True)
    if heartbeat_fd is not None:
        heartbeat()  # booted: the supervisor's boot grace ends before anyone hears of this node
    where = getattr(link, "local_address", None)
    shown = f"tcp://{where[0]}:{where[1]}" if where and node.radio.url.startswith("tcp") else node.radio.url
    print(f"gridfree node {cfg.name}: APID {cfg.apid}, radio on {shown}, dictionary {node.dictionary.hash}",
          file=sys.stderr, flush=True)
    if node.clock.lockstep:
        # Time moves only when the driver steps it; liveness is then a wall-clock matter.
        clock_link = open_link(cfg.clock_url)
        where = getattr(clock_link, "local_address", None)
        clock_shown = f"tcp://{where[0]}:{where[1]}" if where and cfg.clock_url.startswith("tcp") else cfg.clock_url
        print(f"gridfree node {cfg.name}: lockstep clock on {clock_shown}", file=sys.stderr, flush=True)
        print("GRIDFREE-NODE " + json.dumps({"name": cfg.name, "apid": cfg.apid, "radio": shown, "clock": clock_shown,
                                             "dictionary": node.dictionary.hash, "sdls": not node.insecure}), flush=True)
        started = []

        def step_to(t: float) -> None:
            if not started:  # the driver's first time is the epoch: boot there, not at J2000
                node.clock.set(t)
                node.start(open_radio=False)
                started.append(t)
            node.step_to(t)

        driver = LinkReader(clock_link, ClockDriver(step_to, clock_link.write), name="clock-driver")
        driver.start()
        while not node.stop_event.wait(1.0):
            if heartbeat_fd is not None:
                heartbeat()
        driver.stop()
        clock_link.close()
        node.stop()
        return exit_code[0]
    print("GRIDFREE-NODE " + json.dumps({"name": cfg.name, "apid": cfg.apid, "radio": shown, "clock": None,
                                         "dictionary": node.dictionary.hash, "sdls": not node.insecure}), flush=True)
    node.start(open_radio=False)
    watchdog.start()
    try:
        node.run()
    finally:
        watchdog.stop()
        node.stop()
    return exit_code[0]


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gridfree node", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True,
                        help="the node's TOML configuration (examples/node.toml shows every key)")
    parser.add_argument("--no-supervise", action="store_true", help="run without a supervisor process")
    parser.add_argument("--insecure", action="store_true",
                        help="run without keys: unauthenticated uplink and downlink, for a development desk "
                             "only (logged loudly)")
    parser.add_argument("--reset-cause", default=os.environ.get("GRIDFREE_RESET_CAUSE", "power on"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--heartbeat-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if os.path.isdir(args.config):
        print(f"gridfree node: --config {args.config}: is a directory; give the node's TOML file", file=sys.stderr)
        return EXIT_CONFIG
    if args.no_supervise or args.heartbeat_fd is not None:
        return run_node(args.config, args.reset_cause, args.heartbeat_fd, args.insecure)
    from gridfree.flight.app.supervisor import supervise

    return supervise(args.config, args.insecure)


command = {"help": "run a node from a TOML configuration (supervised)", "run": run}
