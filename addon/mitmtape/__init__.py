"""mitmtape: record, keep, share and replay HTTP traffic captured with mitmproxy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mitmtape")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0"
