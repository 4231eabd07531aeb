"""The two endpoints that move files: session export (download) and import (upload).

Both do their heavy work on the server's worker threads. An export is written by the export
pipeline into a temporary folder and streamed from there; an import is streamed to a temporary
file (see `api_upload`) and handed to the importers once the body is complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from tornado.iostream import StreamClosedError
from tornado.web import stream_request_body

from mitmtape.api.base import (
    FILTER_QUERY,
    JSON_TYPE,
    ApiError,
    ApiHandler,
    attachment,
    with_charset,
)
from mitmtape.api.events import ARTIFACT_CREATED, FLOW_CREATED, flow_created
from mitmtape.api.security import refusal
from mitmtape.api.upload import (
    MultipartUpload,
    RawUpload,
    UploadError,
    UploadFile,
    UploadTooLarge,
    multipart_boundary,
)
from mitmtape.capture.record import compile_expression
from mitmtape.export.formats import FORMAT_NAMES, format_named
from mitmtape.export.pipeline import ExportCancelled, ExportOptions, ExportResult, export_session
from mitmtape.export.redaction import RedactMode
from mitmtape.importers import IMPORTERS, import_file, import_new_session
from mitmtape.model import FlowRecord, Session

DOWNLOAD_CHUNK = 64 * 1024
# Room for a multipart body's boundaries and part headers around a file of the full limit.
MULTIPART_ALLOWANCE = 1024 * 1024
# An upload's body may take this long (256 MB at under 0.5 MB/s); other requests get the
# server's idle timeout for theirs.
UPLOAD_BODY_TIMEOUT = 600.0
# What a redacted export masked, by kind: `headers=14, cookies=6, query_parameters=3, ...`.
REDACTED_HEADER = "X-Mitmtape-Redacted"


def export_format_name(name: str) -> str:
    found = format_named(name) if name == name.lower() else None
    if found is None:
        raise ApiError(
            400, f"unknown export format {name!r}; choose one of {', '.join(FORMAT_NAMES)}"
        )
    return found.name


class ExportHandler(ApiHandler):
    """`GET /api/v1/sessions/{id}/export/{format}`: the file, as the CLI would write it."""

    QUERY = FILTER_QUERY | {"filter", "redact"}

    _gone = False

    async def get(self, session_ref: str, name: str) -> None:
        format_name = export_format_name(name)
        expression = self.query_text("filter")
        # Off the event loop: even a guarded parse takes a few hundred ms on mitmproxy 11.
        matches = await self.run(compile_expression, expression) if expression else None
        options = ExportOptions(
            flow_filter=self.query_flow_filter(),
            matches=matches,
            redact=self._redact_mode(),
            artifacts_keep=self.api.artifacts_keep,
            cancelled=lambda: self._gone or self.api.closing,
        )
        folder = Path(tempfile.mkdtemp(prefix="mitmtape-export-"))
        try:
            try:
                result = await self.run(
                    export_session, self.api.store, session_ref, format_name, folder, options
                )
            except ExportCancelled:
                return
            if result.artifact is not None:
                self.api.publish(ARTIFACT_CREATED, result.artifact.to_json())
            await self._send_file(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _redact_mode(self) -> RedactMode:
        """`redact=true|strict|false` (and the other words `query_bool` takes)."""
        if (self.query_raw("redact") or "").strip().lower() == "strict":
            return "strict"
        try:
            return self.query_bool("redact")
        except ApiError:
            raise ApiError(
                400, f"redact must be false, true or strict, got {self.query_raw('redact')!r}"
            ) from None

    async def _send_file(self, result: ExportResult) -> None:
        self.set_header("Content-Type", with_charset(result.format.media_type))
        self.set_header("Content-Disposition", attachment(result.path.name))
        self.set_header("Content-Length", str(result.size))
        if result.warning:
            self.set_header("X-Mitmtape-Warning", result.warning)
        if result.artifact is not None:
            self.set_header("X-Mitmtape-Artifact", result.artifact.id)
        if result.redacted is not None:
            self.set_header(REDACTED_HEADER, result.redacted.header())
        try:
            with result.path.open("rb") as exported:
                while chunk := exported.read(DOWNLOAD_CHUNK):
                    self.write(chunk)
                    await self.flush()
        except StreamClosedError:
            self._gone = True

    def on_connection_close(self) -> None:
        self._gone = True


class UploadHandler(ApiHandler):
    """What both import endpoints share: a raw body or multipart field `file`, streamed to a
    temporary file, then imported on a worker thread.

    A refusal found before the body ends (unknown session, too large) is answered at once and
    the rest of the body is read and dropped, so a client that sends before it reads still
    gets the answer instead of a reset connection.
    """

    _upload: RawUpload | MultipartUpload | None = None
    _file: UploadFile | None = None
    _refused = False
    _gone = False

    async def prepare(self) -> None:
        if self.request.method != "POST":
            await super().prepare()  # 403, 401, else tornado's 405
            return
        reason = refusal(self.request, self.api.hosts)
        if reason is not None:
            return self._refuse(403, reason)
        if not self.authorized():
            # Read past the body like any refusal, but only as far as the 1 MB any request may
            # send; no upload allowance before the token is known.
            return self._refuse(401)
        self.request.connection.set_max_body_size(self.api.upload_limit + MULTIPART_ALLOWANCE)
        self.request.connection.set_body_timeout(UPLOAD_BODY_TIMEOUT)
        try:
            await self.check_target()
        except ApiError as exc:
            return self._refuse(exc.status_code, exc.message)
        try:
            boundary = multipart_boundary(self.request.headers.get("Content-Type", ""))
        except UploadError as exc:
            return self._refuse(400, str(exc))
        declared = self.request.headers.get("Content-Length", "")
        room = self.api.upload_limit + (MULTIPART_ALLOWANCE if boundary else 0)
        if declared.isdigit() and int(declared) > room:
            return self._refuse(413, self._too_large())
        self._file = UploadFile(self.api.upload_limit)
        self._upload = (
            RawUpload(self._file) if boundary is None else MultipartUpload(self._file, boundary)
        )

    async def check_target(self) -> None:
        """Refuse (with an ApiError) what is wrong before the body is read."""

    def import_upload(self, stream: BinaryIO, file_name: str | None) -> dict[str, Any]:
        """The import itself, on a worker thread; the answer's JSON."""
        raise NotImplementedError

    def _too_large(self) -> str:
        return f"the upload is larger than the import limit of {self.api.upload_limit:,} bytes"

    def _refuse(self, status: int, message: str = "") -> None:
        """Answer now; `post` ends the request once the body has been read past."""
        self._refused = True
        self._discard()
        self.set_status(status)
        if status == 401:
            self.set_header("WWW-Authenticate", "Bearer")
            self.clear_header("Content-Type")
            body = b""
        else:
            self.set_header("Content-Type", JSON_TYPE)
            body = json.dumps({"error": message}, ensure_ascii=False).encode()
        self.set_header("Content-Length", str(len(body)))
        self.write(body)
        self.flush()

    def data_received(self, chunk: bytes) -> None:
        if self._refused or self._upload is None:
            return
        try:
            self._upload.feed(chunk)
        except UploadTooLarge as exc:
            self._refuse(413, str(exc))
        except UploadError as exc:
            self._refuse(400, str(exc))

    async def post(self, *args: str) -> None:
        if self._refused or self._upload is None or self._file is None:
            self.finish()
            return
        try:
            self._upload.finish()
        except UploadError as exc:
            raise ApiError(400, str(exc)) from None
        if self._file.size == 0:
            raise ApiError(400, "the upload is empty")
        upload, path = self._upload, self._file.path

        def work() -> dict[str, Any]:
            # A stream, not the path: messages name the uploaded file, not the temporary one.
            with path.open("rb") as stream:
                return self.import_upload(stream, upload.file_name)

        self.send_json(await self.run(work))

    def cancelled(self) -> bool:
        return self._gone or self.api.closing

    def announce(self, records: list[FlowRecord]) -> None:
        for record in records:
            self.api.publish(FLOW_CREATED, flow_created(record))

    def _discard(self) -> None:
        if self._file is not None:
            self._file.discard()
            self._file = None

    def on_finish(self) -> None:
        self._discard()

    def on_connection_close(self) -> None:
        self._gone = True
        self._discard()


@stream_request_body
class ImportHandler(UploadHandler):
    """`POST /api/v1/sessions/{id}/import/{har|json}`: into an existing session."""

    _session: Session

    async def check_target(self) -> None:
        session_ref, name = self.path_args
        if name not in IMPORTERS:
            known = ", ".join(IMPORTERS)
            raise ApiError(400, f"unknown import format {name!r}; choose one of {known}")
        self._session = await self.run(self.api.store.get_session, session_ref)

    def import_upload(self, stream: BinaryIO, file_name: str | None) -> dict[str, Any]:
        format_name = self.path_args[1]
        result = import_file(
            self.api.store,
            stream,
            self._session.id,
            format_name,
            cancel=self.cancelled,
            name=file_name or f"upload.{format_name}",
            on_written=self.announce,
        )
        return {"session": self._session.id, **result.to_json()}


@stream_request_body
class FileImportHandler(UploadHandler):
    """`POST /api/v1/import?name=FILE[&session=ID]`: the drag-and-drop import.

    The format is sniffed (`.har` and `.json` names only). Without `session` the file goes
    into a new session `{FILE} (imported)`, which is deleted again if the import fails, all in
    this one request, so a browser that drops a file never leaves an empty session behind.
    """

    QUERY = frozenset({"name", "session"})
    _session: Session | None = None
    _label: str | None = None

    async def check_target(self) -> None:
        self.check_query()
        self._label = self.query_text("name")
        session_ref = self.query_text("session")
        if session_ref is not None:
            self._session = await self.run(self.api.store.get_session, session_ref)

    def import_upload(self, stream: BinaryIO, file_name: str | None) -> dict[str, Any]:
        label = self._label or file_name or "upload"
        store = self.api.store
        if self._session is None:
            session, result = import_new_session(
                store, stream, cancel=self.cancelled, name=label, on_written=self.announce
            )
        else:
            session = self._session
            result = import_file(
                store,
                stream,
                session.id,
                cancel=self.cancelled,
                name=label,
                on_written=self.announce,
            )
        return {"session": session.id, "session_name": session.name, **result.to_json()}
