"""The local HTTP API from inside mitmproxy: option `tape_api` serves it on 127.0.0.1.

Flows the proxy records are announced on the API's event stream as soon as they are committed.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

from mitmtape.addon.recorder import Recorder
from mitmtape.api.events import ARTIFACT_CREATED
from mitmtape.api.security import API_DEFAULT_PORT, api_token
from mitmtape.api.server import ApiServer
from mitmtape.store import Artifact
from mitmtape.store.rows import Listing, summary_of

logger = logging.getLogger(__name__)

API_OPTIONS = {"tape_api", "tape_api_port", "tape_api_token", "tape_db", "confdir"}


class ApiCommands:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.server: ApiServer | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option("tape_api", bool, False, "Serve mitmtape's HTTP API on 127.0.0.1.")
        loader.add_option("tape_api_port", int, API_DEFAULT_PORT, "Port of mitmtape's HTTP API.")
        loader.add_option(
            "tape_api_token",
            str,
            "",
            "Bearer token of mitmtape's HTTP API; default $MITMTAPE_TOKEN, else a random one.",
        )

    def configure(self, updated: set[str]) -> None:
        if not updated & API_OPTIONS:
            return
        self.stop()
        if ctx.options.tape_api and self.recorder.store is not None:
            self.start()

    def start(self) -> None:
        assert self.recorder.store is not None
        token = api_token(ctx.options.tape_api_token)
        server = ApiServer(self.recorder.store, token, port=ctx.options.tape_api_port)
        try:
            server.start()
        except OSError as exc:
            raise exceptions.OptionsError(
                f"mitmtape API cannot listen on 127.0.0.1:{ctx.options.tape_api_port}: "
                f"{exc.strerror or exc}"
            ) from None
        server.on_active_changed = self.recorder.follow_active_session
        self.server = server
        logger.info(
            "mitmtape web page: %s  API: %s/api/v1 (Authorization: Bearer %s)",
            server.sign_in_url,
            server.url,
            token,
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def announce(self, listings: list[Listing]) -> None:
        """Called by the writer (on its listener thread) with each committed batch."""
        server = self.server
        if server is not None:
            server.publish_flows(summary_of(listing) for listing in listings)

    def announce_artifact(self, artifact: Artifact | None) -> None:
        """An export made by a command kept an artifact: tell the event stream."""
        server = self.server
        if server is not None and artifact is not None:
            server.publish(ARTIFACT_CREATED, artifact.to_json())
