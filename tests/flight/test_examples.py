"""The example configuration in the README must keep loading as the code changes."""
import shutil
from pathlib import Path

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from tests.keys import make_keys

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node.toml"


def test_example_node_config_builds_a_node(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "node.toml")
    make_keys(tmp_path)  # where the example looks: keys/node beside it
    cfg = NodeConfig.load(tmp_path / "node.toml")
    node = Node(cfg)
    assert cfg.radio_url == "tcp://127.0.0.1:5100?listen=1" and node.link_config.spacecraft_id == 42
    assert node.monitor.pmons[1].channel == "cmdDisp.CommandsRejected"
    assert cfg.state_dir == tmp_path / "state"
