"""A session's records as comparable JSON: what survives an export and re-import."""

from __future__ import annotations

from typing import Any

from mitmtape.store import Store

# What an import gives every flow anew (spec section 4), left out of a comparison.
RENEWED = ("id", "session_id", "source")


def records_json(store: Store, session_id: str) -> list[dict[str, Any]]:
    """The session's records oldest first, without the renewed fields and `import_source`."""
    found = []
    for batch in store.iter_flow_batches(session_id):
        for record in batch:
            data = record.to_json()
            for key in RENEWED:
                data.pop(key)
            data["metadata"].pop("import_source", None)
            found.append(data)
    return found
