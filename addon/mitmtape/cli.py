"""The `mitmtape` command: the same database and core calls as the addon, no proxy needed."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

import mitmtape
from mitmtape.api.security import API_DEFAULT_PORT, api_token
from mitmtape.api.server import ApiServer
from mitmtape.capture.record import FilterError, compile_expression
from mitmtape.capture.replay import (
    ReplayError,
    check_target,
    records_of,
    replay_session_name,
    write_replay_file,
)
from mitmtape.codegen import TARGETS, generate
from mitmtape.compare import compare_sessions
from mitmtape.export.formats import FORMATS
from mitmtape.export.pipeline import (
    ARTIFACTS_KEEP,
    ExportError,
    ExportOptions,
    export_session,
    resolve_destination,
)
from mitmtape.export.redaction import RedactMode, Tally, parse_mode, redact_record, redaction_for
from mitmtape.importers import (
    IMPORTERS,
    ImportCancelled,
    ImportFailed,
    ImportResult,
    import_file,
    import_new_session,
)
from mitmtape.importers.summary import outcome
from mitmtape.model import FlowRecord, Session, format_time, parse_time, utc_now
from mitmtape.progress import ProgressBar
from mitmtape.store import (
    READ_BATCH,
    FlowFilter,
    Store,
    StoreError,
    default_db_path,
    open_store,
)
from mitmtape.sync import SyncCancelled, sync_sessions
from mitmtape.text import count, human_size

# `prune --keep-days` beyond a century is a typo, not a retention policy.
MAX_KEEP_DAYS = 36_500


class CliError(Exception):
    """Ends the command with this one line on stderr and exit status 1."""


def print_json(value: Any, out: TextIO) -> None:
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns padded to their widest cell; the last column is left unpadded."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


def cmd_sessions(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    sessions = store.list_sessions()
    if args.json:
        print_json([session.to_json() for session in sessions], out)
        return
    rows = [["", "ID", "FLOWS", "SIZE", "UPDATED", "NAME"]]
    rows += [session_row(session) for session in sessions]
    print_table(rows, out)


def session_row(session: Session) -> list[str]:
    return [
        "*" if session.active else "",
        session.id,
        str(session.flow_count),
        human_size(session.total_size),
        session.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        session.name,
    ]


def flow_row(record: FlowRecord) -> list[str]:
    duration = "" if record.duration_ms is None else f"{record.duration_ms:.1f} ms"
    return [
        record.id,
        record.started_at.strftime("%H:%M:%S.%f")[:-3],
        record.request.method,
        str(record.status),
        duration,
        human_size(record.request_size + record.response_size),
        record.request.url + (f"  ({record.error})" if record.error else ""),
    ]


def cmd_flows(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    session = store.get_session(args.session)
    if args.limit is not None and args.limit < 0:
        raise CliError(f"--limit must be 0 or more, not {args.limit}")
    batches = flow_pages(store, session.id, args.order, args.limit)
    if args.json:
        # Streamed as a JSON array so a session of any size prints in bounded memory.
        out.write("[")
        first = True
        for batch in batches:
            for record in batch:
                out.write("\n  " if first else ",\n  ")
                out.write(json.dumps(record.summary(), ensure_ascii=False))
                first = False
        out.write("\n]\n" if not first else "]\n")
        return
    header = ["ID", "TIME", "METHOD", "STATUS", "DURATION", "SIZE", "URL"]
    for index, batch in enumerate(batches):
        rows = [header] if index == 0 else []
        print_table(rows + [flow_row(record) for record in batch], out)


def flow_pages(
    store: Store, session_id: str, order: str, limit: int | None
) -> Iterator[list[FlowRecord]]:
    """The session's flows in `order`, a page of READ_BATCH at a time by cursor, up to `limit`."""
    left, cursor = limit, None
    while left is None or left > 0:
        size = READ_BATCH if left is None else min(READ_BATCH, left)
        page = store.page_flows(session_id, limit=size, order=order, cursor=cursor)
        if page.records:
            yield page.records
        if page.next is None:
            return
        cursor = page.next
        left = None if left is None else left - len(page.records)


def flow_filter_of(args: argparse.Namespace) -> FlowFilter:
    return FlowFilter(
        method=args.method,
        url=args.url,
        host=args.host,
        status_min=args.status_min,
        status_max=args.status_max,
    )


def redact_mode_of(args: argparse.Namespace) -> RedactMode:
    """`--redact[=strict]`; `--redact-name` or `--redact-bodies` alone ask for `true`."""
    if args.redact is False and (args.redact_name or args.redact_bodies):
        return True
    return args.redact


def add_redaction_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redact",
        nargs="?",
        const=True,
        default=False,
        type=redact_mode_argument,
        metavar="strict",
        help="mask secrets (headers, cookies, query parameters, body fields, JWT signatures); "
        "=strict also masks JWTs whole",
    )
    parser.add_argument(
        "--redact-name",
        action="append",
        default=[],
        metavar="NAME",
        help="also mask headers, cookies, parameters and fields of this name (repeatable)",
    )
    parser.add_argument(
        "--redact-bodies",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out both bodies of flows whose URL contains PATTERN or matches it as a "
        "* glob (repeatable)",
    )


def redact_mode_argument(text: str) -> RedactMode:
    try:
        return parse_mode(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_export(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    if args.json and args.output == "-":
        raise CliError("--json needs -o PATH: with -o - the file itself goes to standard output")
    options = ExportOptions(
        flow_filter=flow_filter_of(args),
        matches=compile_expression(args.filter) if args.filter else None,
        redact=redact_mode_of(args),
        redact_names=tuple(args.redact_name),
        redact_bodies=tuple(args.redact_bodies),
        artifacts_keep=args.artifacts_keep,
        progress=ProgressBar(f"export {args.format}") if sys.stderr.isatty() else None,
    )
    if args.output != "-":
        result = export_session(store, args.session, args.format, args.output, options)
        if args.json:
            redacted = {} if result.redacted is None else result.redacted.as_json()
            summary = {"path": str(result.path), "flows": result.flows, "size": result.size}
            print_json({**summary, "redacted": redacted}, out)
        else:
            print(result.message(), file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as folder:
        result = export_session(store, args.session, args.format, folder, options)
        out.flush()
        with result.path.open("rb") as exported:
            shutil.copyfileobj(exported, getattr(out, "buffer", None) or _TextSink(out))
    if result.warning:
        print(f"mitmtape: warning: {result.warning}", file=sys.stderr)


class _TextSink:
    """Bytes written to a text stream (an in-memory stdout in tests)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        return self.out.write(data.decode("utf-8"))


def cmd_artifacts(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    action = args.action
    if action == "list":
        artifacts = store.list_artifacts(args.type, args.session, args.limit, args.offset)
        if args.json:
            print_json([artifact.to_json() for artifact in artifacts], out)
            return
        rows = [["ID", "CREATED", "SIZE", "TITLE"]]
        rows += [[a.id, a.created_at[:19], human_size(a.size), a.title] for a in artifacts]
        print_table(rows, out)
        return
    if not args.id:
        raise CliError(f"artifacts {action} needs an artifact ID")
    if action == "show":
        artifact = store.get_artifact(args.id)
        if args.json:
            print_json(artifact.to_json(), out)
        else:
            for key, value in artifact.to_json().items():
                out.write(f"{key}: {value}\n")
    elif action == "download":
        if not args.output:
            raise CliError("artifacts download needs -o PATH")
        artifact = store.get_artifact(args.id)
        target = resolve_destination(args.output, artifact.file_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content or b"")
        print(f"Wrote {artifact.file_name} ({human_size(artifact.size)}) to {target}", file=out)
    else:
        deleted = store.delete_artifact(args.id)
        print(f"Deleted artifact {deleted.id} ({deleted.title})", file=out)


def cmd_copy(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    record = store.get_flow(args.flow_id)
    redaction = redaction_for(redact_mode_of(args), args.redact_name, args.redact_bodies)
    if redaction is not None:
        record = redact_record(record, redaction, Tally())
    out.write(generate(args.target, record) + "\n")


class Interrupted(Exception):
    """Ends the command with this one line on stderr and the shell's status for the signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.status = INTERRUPT_STATUS_BASE + signum


# A process ended by signal N exits with 128 + N as shells report it: 130 SIGINT, 143 SIGTERM.
INTERRUPT_STATUS_BASE = 128
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interrupt_requests() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted, not acted on, while the block runs: the import checks the list
    between entries and stops at a batch boundary, so no transaction is cut and no traceback
    is printed. The previous handlers come back afterwards."""
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in INTERRUPT_SIGNALS}
    for signum in INTERRUPT_SIGNALS:
        signal.signal(signum, lambda number, _frame: received.append(number))
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_import(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    with interrupt_requests() as received:
        try:
            session, result = _import(store, args, cancel=lambda: bool(received))
        except ImportCancelled as exc:
            raise Interrupted(_interrupted(args, exc.kept), received[0]) from None
        if received:  # the signal came after the last check: it ends the import all the same
            if not args.into:
                store.delete_session(session.id)
            raise Interrupted(_interrupted(args, result.imported), received[0])
    if args.json:
        print_json({"session": session.id, **result.to_json()}, out)
        return
    out.write(f"{outcome(result)} into {session.name!r} ({session.id})\n")
    for error in result.errors:
        out.write(f"  {error}\n")


def _import(
    store: Store, args: argparse.Namespace, cancel: Callable[[], bool]
) -> tuple[Session, ImportResult]:
    if args.into:
        session = store.get_session(args.into)
        return session, import_file(store, args.file, session.id, args.format, cancel)
    return import_new_session(store, args.file, args.format, cancel)


def _interrupted(args: argparse.Namespace, kept: int) -> str:
    if not args.into:
        return "import interrupted; the new session was removed"
    return f"import interrupted; {count(kept, 'flow')} written before were kept"


def cmd_compare(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    comparison = compare_sessions(store, args.session_a, args.session_b, deep=args.deep)
    if args.json:
        print_json(comparison.to_json(), out)
    else:
        out.write(comparison.to_text() + "\n")


def cmd_sync(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    if bool(args.sessions) == args.all:
        raise CliError("sync needs SESSION... or --all, not both")
    refs = None if args.all else args.sessions
    progress = ProgressBar("sync") if sys.stderr.isatty() else None
    target = open_store(args.to)
    try:
        with interrupt_requests() as received:
            try:
                result = sync_sessions(store, target, refs, progress, lambda: bool(received))
            except SyncCancelled as exc:
                raise Interrupted(str(exc), received[0]) from None
    finally:
        target.close()
    if args.json:
        print_json(result.to_json(), out)
        return
    for session in result.sessions:
        out.write(session.message() + "\n")


def cmd_migrate(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    """The store was opened with `upgrade`: say what the opening did."""
    before, after = store.opened_version, store.schema_version()
    if before == after:
        out.write(f"{store.shown}: schema version {after}, up to date\n")
    else:
        out.write(f"{store.shown}: migrated schema version {before} to {after}\n")


def prune_cutoff(args: argparse.Namespace) -> datetime:
    """`--before DATE` (a day is its midnight, UTC) or `--keep-days N` counted back from now."""
    if args.keep_days is not None:
        if not 0 <= args.keep_days <= MAX_KEEP_DAYS:
            raise CliError(f"--keep-days must be 0 to {MAX_KEEP_DAYS:,}, not {args.keep_days}")
        return utc_now() - timedelta(days=args.keep_days)
    try:
        return parse_time(args.before)
    except ValueError:
        raise CliError(
            f"--before {args.before!r} is not a date or time such as 2026-11-01 "
            "or 2026-11-01T12:00:00Z"
        ) from None


def cmd_prune(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    session_id = store.get_session(args.session).id if args.session else None
    result = store.prune(prune_cutoff(args), session_id, args.empty_sessions)
    if args.json:
        print_json(result.to_json(), out)
        return
    where = count(len(result.flows), "session") if result.flows else "no session"
    out.write(
        f"pruned {count(result.flow_count, 'flow')} from {where}, "
        f"started before {format_time(result.before)}\n"
    )
    if result.sessions_removed:
        out.write(f"removed {count(len(result.sessions_removed), 'empty session')}\n")
    if result.flow_count:
        out.write("run `mitmtape vacuum` to give the space back\n")


def cmd_vacuum(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    result = store.vacuum()
    if args.json:
        print_json(result.to_json(), out)
        return
    out.write(
        f"{store.shown}: {human_size(result.size_before)} before, "
        f"{human_size(result.size_after)} after\n"
    )


def cmd_serve(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    token = api_token(args.token)
    try:
        server = ApiServer(store, token, host=args.host, port=args.port)
        server.start()
    except (ValueError, OSError) as exc:
        raise CliError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    out.write(f"mitmtape API on {server.url}/api/v1  (Authorization: Bearer {token})\n")
    out.write(f"mitmtape web page: {server.sign_in_url}\n")
    out.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


MCP_EXTRA = "pip install 'mitmtape[mcp]'"


def cmd_mcp(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    """The MCP server for coding agents, over stdio (standard output is the protocol's own:
    nothing else is printed there) or, with `--http PORT`, streamable HTTP with a token."""
    try:
        from mitmtape import mcp
    except ImportError as exc:
        raise CliError(f"the MCP server needs the mcp extra ({MCP_EXTRA}): {exc}") from None
    try:
        if args.http is None:
            mcp.serve_stdio(store)
            return
        token = api_token()
        try:
            sock = mcp.listen(args.http)
        except OSError as exc:
            raise CliError(f"cannot serve on {mcp.HTTP_HOST}:{args.http}: {exc}") from None
        port = sock.getsockname()[1]
        out.write(f"mitmtape MCP server on http://{mcp.HTTP_HOST}:{port}{mcp.HTTP_PATH}")
        out.write(f"  (Authorization: Bearer {token})\n")
        out.flush()
        mcp.serve_http(store, sock, token)
    except KeyboardInterrupt:
        pass


# `mitmtape proxy|console|web`: the subcommand and the mitmproxy tool (its entry point in
# `mitmproxy.tools.main`) that it runs.
TOOLS = {"proxy": "mitmdump", "console": "mitmproxy", "web": "mitmweb"}


def tape_script() -> Path:
    """The `-s` script inside the installed package: an install has no checkout's
    `addon/tape.py`. It sits in a folder of its own because mitmproxy puts a script's folder on
    `sys.path` while it loads it."""
    return Path(mitmtape.__file__).parent / "script" / "tape.py"


def tool_command(tool: str, db: str | None, passed: Sequence[str]) -> list[str]:
    """The command line that runs `tool` with mitmtape loaded and `passed` unchanged after it.

    The tool runs on this interpreter (`sys.executable`), so it is the mitmproxy installed
    beside mitmtape, not whatever `mitmdump` comes first on PATH; `-P` keeps the working
    folder off `sys.path`, so a folder there cannot stand in for an installed module."""
    code = (
        f"import sys; sys.argv[0] = {tool!r}; "
        f"from mitmproxy.tools.main import {tool}; sys.exit({tool}())"
    )
    command = [sys.executable, "-P", "-c", code, "-s", str(tape_script())]
    if db:
        command += ["--set", f"tape_db={db}"]
    return [*command, *passed]


def run_tool(args: argparse.Namespace) -> NoReturn:
    """Become the tool (`os.execv`): its signals, output and exit status are its own."""
    command = tool_command(args.tool, args.db, args.tool_args)
    try:
        os.execv(command[0], command)
    except OSError as exc:
        raise CliError(f"cannot start {args.tool}: {exc}") from None


# `mitmtape mock`: only loopback, nothing unknown reaches a real backend by surprise, and a
# recorded answer serves the same request again and again (as a mock server does), unless
# mitmproxy's own arguments say otherwise (it refuses an option given twice).
MOCK_DEFAULTS = {
    "listen_host": ("--set", "listen_host=127.0.0.1"),
    "server_replay_extra": ("--set", "server_replay_extra=404"),
    "server_replay_reuse": ("--set", "server_replay_reuse=true"),
}


def mock_defaults(passed: Sequence[str]) -> list[str]:
    """The defaults that `passed` does not set itself (`--set NAME=` or `--name-with-dashes`)."""
    given = " ".join(passed)
    return [
        word
        for name, words in MOCK_DEFAULTS.items()
        if f"{name}=" not in given and f"--{name.replace('_', '-')}" not in given
        for word in words
    ]


def cmd_mock(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    """A proxy answering from a recorded session (mitmproxy's server replay)."""
    session = store.get_session(args.session)
    store.close()
    passed = [*mock_defaults(args.tool_args), "--set", f"tape_server_replay={session.id}"]
    passed += args.tool_args
    command = tool_command("mitmdump", args.db, passed)
    try:
        os.execv(command[0], command)
    except OSError as exc:
        raise CliError(f"cannot start mitmdump: {exc}") from None


def cmd_replay(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    """Re-send a session's requests through a headless mitmdump (client replay) into a new
    session, then print how the answers compare with the recorded ones."""
    original = store.get_session(args.session)
    try:
        target = check_target(args.to or "")
    except ReplayError as exc:
        raise CliError(str(exc)) from None
    matches = compile_expression(args.filter) if args.filter else None
    name = replay_session_name(original.name, utc_now())
    replay = store.create_session(name, f"Replay of {original.name} ({original.id})")
    with tempfile.TemporaryDirectory() as folder:
        flows = Path(folder) / "replay.mitm"
        with flows.open("wb") as file:
            sent, not_sent = write_replay_file(
                records_of(store, original, matches), replay.id, target, file
            )
        if not sent:
            store.delete_session(replay.id)
            raise CliError(f"nothing to replay: no HTTP flow of {original.name!r} matched")
        replayed = ["-n", "-q", "--set", "tape_record=false", "-C", str(flows)]
        finished = subprocess.run(tool_command("mitmdump", args.db, replayed), stdout=2)
    if finished.returncode != 0:
        raise CliError(f"mitmdump's client replay failed (exit status {finished.returncode})")
    comparison = compare_sessions(store, original.id, replay.id)
    if args.json:
        print_json(
            {"session": replay.id, "replayed": sent, "not_replayed": not_sent,
             "comparison": comparison.to_json()},
            out,
        )  # fmt: skip
        return
    skipped = f" ({not_sent:,} WebSocket flows not replayed)" if not_sent else ""
    out.write(f"Replayed {sent:,} flows into {replay.name!r} ({replay.id}){skipped}\n")
    out.write(comparison.to_text() + "\n")


def add_tool_commands(commands: Any) -> None:
    """One subcommand per tool. It reads no option of its own (no `-` prefix, no `--help`), so
    every argument after it, `--help` and `--` included, reaches mitmproxy unchanged."""
    for name, tool in TOOLS.items():
        parser = commands.add_parser(
            name,
            help=f"run {tool} with mitmtape loaded (mitmproxy's arguments follow)",
            add_help=False,
            prefix_chars="\0",
        )
        parser.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="mitmproxy args")
        parser.set_defaults(tool=tool)


Command = Callable[[Store, argparse.Namespace, TextIO], None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mitmtape", description="Sessions of HTTP traffic recorded with mitmproxy."
    )
    parser.add_argument(
        "--db",
        help="SQLite file or postgresql://user@host/db URL "
        "(default: $MITMTAPE_DB or ~/.mitmproxy/mitmtape/mitmtape.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_tool_commands(commands)

    sessions = commands.add_parser("sessions", help="list sessions (the active one marked *)")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    sessions.set_defaults(handler=cmd_sessions)

    flows = commands.add_parser("flows", help="list the flows of a session, oldest first")
    flows.add_argument("session", metavar="SESSION", help="session id or exact name")
    flows.add_argument(
        "--order", choices=("asc", "desc"), default="asc", help="desc: the newest first"
    )
    flows.add_argument("--limit", type=int, metavar="N", help="at most N flows (default: all)")
    flows.add_argument("--json", action="store_true", help="print JSON")
    flows.set_defaults(handler=cmd_flows)

    export = commands.add_parser("export", help="export a session to a file")
    export.add_argument("session", metavar="SESSION", help="session id or exact name")
    export.add_argument("--format", required=True, choices=list(FORMATS), help="file format")
    export.add_argument(
        "-o", "--output", default=".", help="file, folder (default name inside) or - for stdout"
    )
    export.add_argument("--filter", help="mitmproxy filter expression, e.g. '~d example.com'")
    export.add_argument("--url", help="only URLs containing this text")
    export.add_argument("--method", help="only this HTTP method")
    export.add_argument("--status-min", type=int, help="only statuses at least this")
    export.add_argument("--status-max", type=int, help="only statuses at most this")
    export.add_argument("--host", help="only flows to this host (OpenAPI: its one server)")
    add_redaction_arguments(export)
    export.add_argument("--json", action="store_true", help="print what was written as JSON")
    export.add_argument(
        "--artifacts-keep",
        type=int,
        default=ARTIFACTS_KEEP,
        metavar="N",
        help=f"keep the N newest exports of the session as artifacts (default {ARTIFACTS_KEEP}; "
        "0 keeps none)",
    )
    export.set_defaults(handler=cmd_export)

    imports = commands.add_parser(
        "import", help="import a HAR, mitmtape JSON or mitmproxy flow file"
    )
    imports.add_argument("file", metavar="FILE", help=".har, .json or mitmproxy flow file")
    imports.add_argument("--into", metavar="SESSION", help="session (default: a new one)")
    imports.add_argument("--format", default="auto", choices=["auto", *IMPORTERS])
    imports.add_argument("--json", action="store_true", help="print JSON")
    imports.set_defaults(handler=cmd_import)

    copy = commands.add_parser("copy", help="print a recorded flow as code")
    copy.add_argument("flow_id", metavar="FLOW_ID", help="flow id (see `mitmtape flows`)")
    copy.add_argument("--as", dest="target", required=True, choices=list(TARGETS))
    add_redaction_arguments(copy)
    copy.set_defaults(handler=cmd_copy)

    compare = commands.add_parser("compare", help="compare two sessions (A before, B after)")
    compare.add_argument("session_a", metavar="SESSION_A")
    compare.add_argument("session_b", metavar="SESSION_B")
    compare.add_argument(
        "--deep", action="store_true", help="also compare response bodies, headers and sizes"
    )
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(handler=cmd_compare)

    mock = commands.add_parser(
        "mock",
        help="a proxy on 127.0.0.1 answering from a session (unknown requests: 404)",
        usage="mitmtape mock SESSION [-p PORT] [mitmproxy args...]",
    )
    mock.add_argument("session", metavar="SESSION", help="session id or exact name")
    mock.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="mitmproxy args")
    mock.set_defaults(handler=cmd_mock)

    replay = commands.add_parser("replay", help="re-send a session's requests, compare answers")
    replay.add_argument("session", metavar="SESSION", help="session id or exact name")
    replay.add_argument("--to", metavar="TARGET", help="send to this scheme://host:port instead")
    replay.add_argument("--filter", help="only flows matching this mitmproxy filter expression")
    replay.add_argument("--json", action="store_true", help="print JSON")
    replay.set_defaults(handler=cmd_replay)

    sync = commands.add_parser("sync", help="copy sessions to another database")
    sync.add_argument("sessions", nargs="*", metavar="SESSION", help="session id or exact name")
    sync.add_argument("--all", action="store_true", help="every session")
    sync.add_argument("--to", required=True, metavar="DB", help="database to copy into")
    sync.add_argument("--json", action="store_true", help="print JSON")
    sync.set_defaults(handler=cmd_sync)

    migrate = commands.add_parser("migrate", help="upgrade the database's schema to this version")
    migrate.set_defaults(handler=cmd_migrate, upgrade=True)

    prune = commands.add_parser("prune", help="delete old flows, in batches, counters kept")
    cutoff = prune.add_mutually_exclusive_group(required=True)
    cutoff.add_argument("--before", metavar="DATE", help="flows that started before DATE")
    cutoff.add_argument(
        "--keep-days", type=int, metavar="N", help="flows that started more than N days ago"
    )
    prune.add_argument("--session", metavar="S", help="only this session (id or exact name)")
    prune.add_argument(
        "--empty-sessions",
        action="store_true",
        help="then delete sessions left without flows and not written to since (never the "
        "active one)",
    )
    prune.add_argument("--json", action="store_true", help="print JSON")
    prune.set_defaults(handler=cmd_prune)

    vacuum = commands.add_parser("vacuum", help="give the space of deleted flows back")
    vacuum.add_argument("--json", action="store_true", help="print JSON")
    vacuum.set_defaults(handler=cmd_vacuum)

    serve = commands.add_parser("serve", help="serve the HTTP API on 127.0.0.1")
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=API_DEFAULT_PORT, help="port (0: any free one)")
    serve.add_argument("--token", help="bearer token (default $MITMTAPE_TOKEN, else random)")
    serve.set_defaults(handler=cmd_serve)

    mcp = commands.add_parser("mcp", help=f"MCP server for coding agents ({MCP_EXTRA})")
    mcp.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        help="streamable HTTP on 127.0.0.1:PORT (0: any free port) with a bearer token "
        "($MITMTAPE_TOKEN, else random); default: stdio",
    )
    mcp.set_defaults(handler=cmd_mcp)

    artifacts = commands.add_parser("artifacts", help="kept exports: list, show, download, delete")
    artifacts.add_argument("action", choices=["list", "show", "download", "delete"])
    artifacts.add_argument("id", nargs="?", metavar="ID", help="artifact id (not for list)")
    artifacts.add_argument("-o", "--output", help="download: file or folder")
    artifacts.add_argument("--type", help="list: only this type (e.g. session_export)")
    artifacts.add_argument("--session", help="list: only this session id")
    artifacts.add_argument("--limit", type=int, default=100, help="list: at most this many")
    artifacts.add_argument("--offset", type=int, default=0, help="list: skip this many")
    artifacts.add_argument("--json", action="store_true", help="print JSON")
    artifacts.set_defaults(handler=cmd_artifacts)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "tool", None):
        try:
            run_tool(args)
        except CliError as exc:
            print(f"mitmtape: {exc}", file=sys.stderr)
            return 1
    out = out or sys.stdout
    try:
        store = open_store(args.db or default_db_path(), upgrade=getattr(args, "upgrade", False))
    except StoreError as exc:
        print(f"mitmtape: {exc}", file=sys.stderr)
        return 1
    try:
        handler: Command = args.handler
        handler(store, args, out)
    except Interrupted as exc:
        print(f"mitmtape: {exc}", file=sys.stderr)
        return exc.status
    except (StoreError, CliError, ExportError, FilterError, ImportFailed) as exc:
        print(f"mitmtape: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
