"""The `mitmtape` command: the same database and core calls as the addon, no proxy needed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from mitmtape.model import FlowRecord, Session
from mitmtape.store import Store, StoreError, default_db_path


class CliError(Exception):
    """Ends the command with this one line on stderr and exit status 1."""


def human_size(size: float) -> str:
    """Bytes for people: `512 B`, `3.2 KB`, `1.4 MB` (decimal units, as file managers show)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


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
    batches = store.iter_flow_batches(session.id, with_bodies=False)
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


Command = Callable[[Store, argparse.Namespace, TextIO], None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mitmtape", description="Sessions of HTTP traffic recorded with mitmproxy."
    )
    parser.add_argument(
        "--db", help="SQLite database (default: $MITMTAPE_DB or ~/.mitmproxy/mitmtape/mitmtape.db)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sessions = commands.add_parser("sessions", help="list sessions (the active one marked *)")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    sessions.set_defaults(handler=cmd_sessions)

    flows = commands.add_parser("flows", help="list the flows of a session, oldest first")
    flows.add_argument("session", metavar="SESSION", help="session id or exact name")
    flows.add_argument("--json", action="store_true", help="print JSON")
    flows.set_defaults(handler=cmd_flows)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        store = Store(args.db or default_db_path())
    except StoreError as exc:
        print(f"mitmtape: {exc}", file=sys.stderr)
        return 1
    try:
        handler: Command = args.handler
        handler(store, args, out)
    except (StoreError, CliError) as exc:
        print(f"mitmtape: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
