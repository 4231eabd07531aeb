"""What a redaction did, counted by kind, for the doors and the files that can say so."""

from __future__ import annotations

from dataclasses import dataclass, field

# Kind → the noun people read ("redacted 14 headers, 1 JWT"); the keys are what `--json` and
# the API's `X-Mitmtape-Redacted` header print.
KINDS: dict[str, tuple[str, str]] = {
    "headers": ("header", "headers"),
    "cookies": ("cookie", "cookies"),
    "query_parameters": ("query parameter", "query parameters"),
    "body_fields": ("body field", "body fields"),
    "jwts": ("JWT", "JWTs"),
    "bodies": ("body", "bodies"),
}


@dataclass(slots=True)
class Tally:
    """Counts that grow while records stream through; complete once the stream ends."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, kind: str, number: int = 1) -> None:
        self.counts[kind] += number

    def as_json(self) -> dict[str, int]:
        return dict(self.counts)

    def text(self) -> str:
        """`14 headers, 6 cookies, 1 JWT`: the kinds found, or `nothing`."""
        found = [
            f"{number:,} {KINDS[kind][number != 1]}"
            for kind, number in self.counts.items()
            if number
        ]
        return ", ".join(found) or "nothing"

    def header(self) -> str:
        """`headers=14, cookies=6, ...`: every kind, for the API's response header."""
        return ", ".join(f"{kind}={number}" for kind, number in self.counts.items())
