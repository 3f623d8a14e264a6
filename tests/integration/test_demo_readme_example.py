"""The README promises that examples/node.toml shows every key a node's configuration accepts. The
loader is asked which keys it reads (every `Table.get`/`Table.table` while a node is built from
the example, and the link settings' fields), so a key added to the loader without the example
fails here."""
import shutil
import tomllib
from dataclasses import fields
from pathlib import Path

from gridfree.flight.app import config
from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.protocols.config import LinkConfig
from tests.keys import make_keys

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node.toml"


def _section(path: str) -> str:
    """"monitoring[1]" -> "monitoring": the keys of a list of tables are judged over all its entries."""
    return path.split("[", 1)[0]


def test_the_example_node_config_shows_every_key_the_loader_reads_and_loads(tmp_path, monkeypatch):
    asked: dict[str, set[str]] = {}
    get, table = config.Table.get, config.Table.table

    def recording_get(self, key, *args, **kwargs):
        asked.setdefault(_section(self.path), set()).add(key)
        return get(self, key, *args, **kwargs)

    def recording_table(self, key, *args, **kwargs):
        asked.setdefault(_section(self.path), set()).add(key)
        return table(self, key, *args, **kwargs)

    monkeypatch.setattr(config.Table, "get", recording_get)
    monkeypatch.setattr(config.Table, "table", recording_table)
    shutil.copy(EXAMPLE, tmp_path / "node.toml")
    make_keys(tmp_path)
    node = Node(NodeConfig.load(tmp_path / "node.toml"))  # loads: every key valid, none unknown
    assert node.link_config.spacecraft_id == 42
    # read by LinkConfig.from_dict, not by a Table; sdls is not for a node's TOML: its keys decide
    asked["link"] = {f.name for f in fields(LinkConfig)} - {"sdls"}

    doc = tomllib.loads(EXAMPLE.read_text())
    shown: dict[str, set[str]] = {"": set(doc)}
    for name, value in doc.items():
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                shown.setdefault(name, set()).update(entry)
    missing = {section or "(top)": sorted(keys - shown.get(section, set()))
               for section, keys in asked.items() if keys - shown.get(section, set())}
    assert not missing, f"examples/node.toml does not show these keys the loader reads: {missing}"
    assert {"node", "radio", "clock", "hardware", "rates", "security", "link", "monitoring",
            "event_action"} <= shown[""]

