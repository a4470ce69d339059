"""The provider response cache: 200 answers by request key, in memory and optionally on disk, each
reused for as long as the caller's time-to-live allows. Keys are made by the HTTP client
(``ProviderHttp.cache_key``) and leave out secrets, so the cache never stores a key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ResponseCache:
    """200 answers by request, in memory and (given ``directory``) on disk for later processes.

    Keys leave out secrets (tokens in query strings), so a cached answer never stores a key.
    """

    directory: Path | None = None
    memory: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    def _file(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.json"

    def get(self, key: str, ttl_s: float, wall: float) -> bytes | None:
        hit = self.memory.get(key)
        if hit is None and (path := self._file(key)) is not None and path.exists():
            try:
                stored = json.loads(path.read_text())
                hit = (float(stored["stored_at"]), bytes.fromhex(stored["body"]))
            except (OSError, ValueError, KeyError, TypeError):
                hit = None
        if hit is None or wall - hit[0] > ttl_s:
            return None
        self.memory[key] = hit
        return hit[1]

    def put(self, key: str, body: bytes, wall: float) -> None:
        self.memory[key] = (wall, body)
        path = self._file(key)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"stored_at": wall, "body": body.hex()}))
                tmp.replace(path)
            except OSError:
                pass  # a cache that cannot be written is only a slower cache
