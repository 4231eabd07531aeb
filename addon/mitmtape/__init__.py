"""mitmtape: record, keep, share and replay HTTP traffic captured with mitmproxy.

The package is a folder per concern, in layers (DESIGN.md; `tests/test_layers.py` keeps them):
`model` and `text` at the ground; `store/` (the one owner of SQL, an engine module per
database); `capture/` (mitmproxy's flows → snapshots → the writer process → records);
`shapes` (endpoint folding); `export/`, `importers/` and `codegen/` (one module per format or
target, each in a registry); `compare` and `workspace`; and the doors on top, each thin:
`addon/` (mitmproxy), `api/` (HTTP) with `web/` (the page on the API's server), and `cli`.
`script/tape.py` is the `-s` script of an installed mitmtape.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mitmtape")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0"
