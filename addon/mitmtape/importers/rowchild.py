"""The child side of an import's `RowWriter`: open the database, then write each batch the
importer hands over in one transaction and say what became of it."""

from __future__ import annotations

import pickle
import signal
import sys
from typing import IO, Any

from mitmtape.store import StoreUnavailable, masked, open_store
from mitmtape.store.child import child_database
from mitmtape.store.errors import one_line
from mitmtape.store.rows import RowBatch


def _reply(out: IO[bytes], kind: str, value: Any) -> None:
    pickle.dump((kind, value), out, pickle.HIGHEST_PROTOCOL)
    out.flush()


def main() -> None:
    # Stopping is the importer's to decide (the child has a process group of its own, and
    # ignores a signal sent to it): the importer stops at a batch boundary and ends this
    # child's input, which ends the child once its batch is committed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out, source = sys.stdout.buffer, sys.stdin.buffer
    location = child_database()
    try:
        store = open_store(location)
    except Exception as exc:
        reason = one_line(exc)
        _reply(out, "error", f"the import's writer cannot open {masked(location)}: {reason}")
        return
    _reply(out, "ready", None)
    while True:
        try:
            batch: RowBatch = pickle.load(source)
        except (EOFError, OSError, pickle.UnpicklingError):
            break
        try:
            _reply(out, "written", store.add_rows(batch))
        except StoreUnavailable as exc:
            _reply(out, "unavailable", one_line(exc))
        except Exception as exc:  # rows the store refuses: the importer stops with this
            _reply(out, "error", f"could not write {len(batch[0])} flows: {one_line(exc)}")
    store.close()


if __name__ == "__main__":
    main()
