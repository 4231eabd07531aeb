"""The session of leaky records every redaction test exports."""

from __future__ import annotations

import pytest

from mitmtape.store import Store
from tests.export.redaction.leaky import leaky_records


@pytest.fixture
def leaky_session(store: Store) -> str:
    session = store.create_session("leaky")
    records = leaky_records()
    for record in records:
        record.session_id = session.id
    store.add_flows(records)
    return session.id
