"""Fuzzing the importers: mutated sample files never cost a traceback, a hang or other data.

Every case is seeded (the seed is in the test id), so a failure reruns alone:
`pytest 'tests/importers/test_fuzz.py::test_a_mutated_file_imports_or_fails_cleanly[har-17]'`.
A new import format adds its samples to `SAMPLES`; byte-level mutations apply to every sample,
the JSON-tree ones to samples that are JSON.
"""

from __future__ import annotations

import codecs
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.importers import ImportFailed, import_file, import_new_session
from mitmtape.store import Store
from tests.importers.conftest import SAMPLES as SAMPLE_FOLDER

CASES_PER_SAMPLE = 80
CASE_SECONDS = 10
# Values no json.dumps writes: spliced into the text in place of a placeholder string.
RAW_VALUES = [
    "123456789012345678901234567890",
    "-99999999999999999999",
    "1e300",
    "-1e400",
    "9223372036854775808",
    '"\\udc00"',
    '"a\\ud800b"',
    "[" * 70 + "]" * 70,
    "{" + '"a":{' * 1000 + "}" * 1001,
    "[" * 50_000 + "]" * 50_000,
]
PLAIN_VALUES: list[Any] = [None, True, 0, -1, 2**63 - 1, 1.5, "", "x" * 10_000, [], {}, [1, "a"]]


@dataclass(frozen=True)
class Sample:
    """A file a format's importer reads; `is_json` lets tree mutations apply."""

    name: str
    data: bytes
    is_json: bool = True


def _samples(export_json: bytes) -> list[Sample]:
    hars = [Sample(f"{path.stem}.har", path.read_bytes()) for path in SAMPLE_FOLDER.glob("*.har")]
    mitms = [Sample(p.name, p.read_bytes(), False) for p in SAMPLE_FOLDER.glob("*.mitm")]
    return [*hars, *mitms, Sample("export.json", export_json)]


Mutation = Callable[[random.Random, Sample], bytes]


def truncate(rng: random.Random, sample: Sample) -> bytes:
    return sample.data[: rng.randrange(len(sample.data))]


def flip_bytes(rng: random.Random, sample: Sample) -> bytes:
    data = bytearray(sample.data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def add_bom(rng: random.Random, sample: Sample) -> bytes:
    text = sample.data.decode("utf-8", "replace")
    choice = rng.choice(["utf-8-sig", "utf-16", "utf-32", "utf-16-le", "utf-32-be"])
    return codecs.BOM_UTF8 + sample.data if choice == "utf-8-sig" else text.encode(choice)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, (*path, index))


def _replace_node(rng: random.Random, sample: Sample, value: Any) -> bytes:
    tree = json.loads(sample.data.decode("utf-8"))
    paths = [path for path in _nodes(tree) if path]
    path = rng.choice(paths)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return json.dumps(tree).encode()


def wrong_type(rng: random.Random, sample: Sample) -> bytes:
    return _replace_node(rng, sample, rng.choice(PLAIN_VALUES))


def hostile_value(rng: random.Random, sample: Sample) -> bytes:
    raw = rng.choice(RAW_VALUES)
    text = _replace_node(rng, sample, "@@raw@@").decode()
    return text.replace('"@@raw@@"', raw).encode()


BYTE_MUTATIONS: list[Mutation] = [truncate, flip_bytes, add_bom]
TREE_MUTATIONS: list[Mutation] = [wrong_type, hostile_value, hostile_value, wrong_type]
FIXED = [
    b"",
    b"   ",
    b"[]",
    b"{}",
    b"[{}]",
    b'{"log": {}}',
    b'{"log": {"entries": {}}}',
    b"\xef\xbb\xbf",
]


def mutate(seed: int, sample: Sample) -> bytes:
    """One or two mutations of a sample, chosen by the seed; the first seeds are FIXED files."""
    if seed < len(FIXED):
        return FIXED[seed]
    rng = random.Random(seed)
    data = sample.data
    for _ in range(rng.choice([1, 1, 2])):
        tree = sample.is_json and _is_json(data)
        mutation = rng.choice(BYTE_MUTATIONS + (TREE_MUTATIONS if tree else []))
        data = mutation(rng, Sample(sample.name, data, tree))
    return data


def _is_json(data: bytes) -> bool:
    """UTF-8 JSON, which the tree mutations can parse and write back."""
    try:
        json.loads(data.decode("utf-8"))
    except ValueError:
        return False
    return True


class World:
    """One database for every case, holding earlier sessions that must never change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = Store(folder / "fuzz.db")
        self.earlier = []
        for path in sorted(SAMPLE_FOLDER.glob("*.har")):
            session, _ = import_new_session(self.store, path)
            self.earlier.append(session.id)
        exported = folder / "export.json"
        export_session(
            self.store, self.earlier[0], "json", exported, ExportOptions(keep_artifact=False)
        )
        self.samples = {sample.name: sample for sample in _samples(exported.read_bytes())}
        self.target = self.store.create_session("fuzz target").id
        self.snapshot = self.earlier_sessions()

    def earlier_sessions(self) -> list[Any]:
        return [self.export_json(session_id) for session_id in self.earlier]

    def export_json(self, session_id: str) -> list[Any]:
        return [
            record.to_json()
            for batch in self.store.iter_flow_batches(session_id)
            for record in batch
        ]

    def integrity(self) -> str:
        with sqlite3.connect(self.folder / "fuzz.db") as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.store.close()


SAMPLE_NAMES = sorted(
    [path.name for path in [*SAMPLE_FOLDER.glob("*.har"), *SAMPLE_FOLDER.glob("*.mitm")]]
    + ["export.json"]
)
CASES = [(name, seed) for name in SAMPLE_NAMES for seed in range(CASES_PER_SAMPLE)]


@pytest.mark.timeout(CASE_SECONDS)
@pytest.mark.parametrize(("sample", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_a_mutated_file_imports_or_fails_cleanly(world: World, sample: str, seed: int) -> None:
    name = f"fuzz-{seed}-{sample}"
    path = world.folder / name
    path.write_bytes(mutate(seed, world.samples[sample]))
    started = time.monotonic()
    try:
        if seed % 2:
            import_file(world.store, path, world.target)
        else:
            session, result = import_new_session(world.store, path)
            _round_trip(world, session.id, result.imported)
    except ImportFailed as failed:
        assert "\n" not in str(failed) and "Traceback" not in str(failed)
        assert world.store.find_session(f"{name} (imported)") is None
    assert time.monotonic() - started < CASE_SECONDS
    assert world.earlier_sessions() == world.snapshot
    assert world.integrity() == "ok"


def _round_trip(world: World, session_id: str, imported: int) -> None:
    """What was imported exports as mitmtape JSON that imports again, flow for flow."""
    exported = world.folder / f"{session_id}.json"
    export_session(world.store, session_id, "json", exported, ExportOptions(keep_artifact=False))
    again, result = import_new_session(world.store, exported)
    assert result.imported == imported and result.skipped == 0
    world.store.delete_session(again.id)
    world.store.delete_session(session_id)
