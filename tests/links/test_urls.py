"""Links are chosen by URL: bad URLs and options fail at open with a message that says what was
expected, and keyword options are the same options as the query's."""
import pytest

from gridfree.protocols.links import LinkError, LinkStats, open_link


@pytest.mark.parametrize("url,opts,match", [
    ("gopher://x:1", {}, r"unknown link scheme 'gopher'.*expected .*tcp://host:port"),
    ("", {}, "non-empty"),
    ("tcp://nohost", {}, r"expected tcp://host:port"),
    ("tcp://127.0.0.1:99999", {}, r"expected tcp://host:port"),
    ("tcp://127.0.0.1:0", {}, "port 0 only makes sense for a listener"),
    ("tcp://127.0.0.1:1/path", {}, r"expected tcp://host:port"),
    ("tcp://127.0.0.1:1?colour=red", {}, r"unknown option 'colour' \(known: listen, write_timeout\); expected tcp://"),
    ("tcp://127.0.0.1:1?listen=maybe", {}, r"bad value for option 'listen'"),
    ("tcp://127.0.0.1:0?listen=1&listen=1", {}, "given twice"),
    ("tcp-listen://127.0.0.1:0", {"write_timeout": -1}, r"bad value for option 'write_timeout'"),
    ("udp://127.0.0.1:1?bind=nonsense", {}, r"bad value for option 'bind': expected host:port"),
    ("udp-listen://127.0.0.1:0?bind=127.0.0.1:0", {}, r"unknown option 'bind' \(known: none\); expected udp://"),
    ("udp://no-such-host.invalid:1", {}, "cannot open UDP link"),
    ("tcp://no-such-host.invalid:1", {}, "cannot resolve 'no-such-host.invalid'"),
    ("serial:///dev/null?stopbits=1&colour=red", {}, r"unknown option 'colour'.*expected a device path"),
    ("serial://dev/ttyUSB0", {}, "three slashes"),
    ("serial:///dev/null?parity=Z", {}, "cannot open serial link"),
    ("/dev/does-not-exist-gridfree", {}, "cannot open serial link"),
    ("loop://", {"colour": "red"}, r"unknown option 'colour'"),
    ("loop://?bogus=1", {}, "cannot open serial link"),  # pyserial's own query, pyserial's own error
])
def test_bad_urls_say_what_was_expected(url, opts, match):
    with pytest.raises(LinkError, match=match):
        open_link(url, **opts)


@pytest.mark.parametrize("url,match", [
    ("127.0.0.1:5100", r"host:port with no scheme: write tcp://127.0.0.1:5100"),
    ("localhost:5100", r"write tcp://localhost:5100"),
    ("tcp:/127.0.0.1:5100", r"a tcp link needs two slashes after 'tcp:'"),
    ("udp:127.0.0.1:5100", r"a udp link needs two slashes"),
    ("http://127.0.0.1:5100", r"unknown link scheme 'http'.*not a web address"),
    ("https://example.org/node", r"unknown link scheme 'https'"),
    ("tcp://[::1", r"malformed link URL 'tcp://\[::1'"),
    ("tcp-listen://[zz]:1", r"malformed link URL"),
])
def test_malformed_link_specs_are_one_line_errors_quoting_the_accepted_forms(url, match):
    with pytest.raises(LinkError, match=match) as caught:
        open_link(url)
    text = str(caught.value)
    assert "\n" not in text and "expected a device path" in text and "tcp://host:port" in text


def test_keyword_options_are_the_query_options():
    with open_link("tcp://127.0.0.1:0", listen=True, write_timeout=0.5) as server:
        assert server.listening and server.write_timeout == 0.5 and server.local_address[1] != 0


def test_scheme_is_case_insensitive():
    with open_link("UDP-LISTEN://127.0.0.1:0") as link:
        assert link.is_datagram


def test_snapshot_merges_frame_level_stats_into_one_report():
    from gridfree.protocols.deframing import TcStats

    link = LinkStats(bytes_in=10, errors=1, connected=True)
    report = link.snapshot(tc=TcStats(frames_ok=3, frames_bad=1), app={"resyncs": 2})
    assert report["bytes_in"] == 10 and report["connected"] is True
    assert report["tc.frames_ok"] == 3 and report["tc.frames_bad"] == 1 and report["app.resyncs"] == 2
    assert "tc.bytes_in" in report  # each layer keeps its own name for its own count
    assert LinkStats().snapshot() == {k: v for k, v in LinkStats().snapshot().items()}
    with pytest.raises(TypeError, match="layer 'x'"):
        link.snapshot(x=42)
