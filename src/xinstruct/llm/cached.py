"""A backend wrapper that stores every finished call and serves repeats from the store.

The key hashes what determines the output: the backend's ``identity()`` (kind, model sha256,
chat template), the messages, the reply prefix, the sampling parameters and seed. It does not
include batch size, concurrency, timeouts, retry settings, the server URL or the model's file
path, so a resumed run with other throughput settings still hits every finished call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from xinstruct.core.cache import CallCache, hash_key
from xinstruct.llm.base import Backend, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult

Req = TypeVar("Req", GenerateRequest, ScoreRequest)
Res = TypeVar("Res", GenerateResult, ScoreResult)


class CachedBackend:
    """Same protocol as the wrapped backend; also counts hits so progress can tell cached from new."""

    def __init__(self, inner: Backend, cache: CallCache) -> None:
        self.inner = inner
        self.cache = cache
        self.kind = inner.kind
        self.new_calls = 0
        self.cached_calls = 0

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def _key(self, kind: str, request: GenerateRequest | ScoreRequest) -> str:
        return hash_key({"call": kind, "backend": self.inner.identity(), "request": request.to_dict()})

    def _run(
        self,
        kind: str,
        requests: Sequence[Req],
        call: Callable[[Sequence[Req]], Iterator[tuple[int, Res]]],
        decode: Callable[[dict[str, Any]], Res],
    ) -> Iterator[tuple[int, Res]]:
        keys = [self._key(kind, r) for r in requests]
        missing: list[int] = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is None:
                missing.append(i)
            else:
                self.cached_calls += 1
                result = decode(hit)
                result.cached = True
                yield i, result
        if not missing:
            return
        for j, result in call([requests[i] for i in missing]):
            i = missing[j]
            self.cache.put(keys[i], kind, requests[i].to_dict(), result.to_dict())
            self.new_calls += 1
            yield i, result

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        return self._run("generate", requests, self.inner.generate, GenerateResult.from_dict)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        return self._run("first_token_logprobs", requests, self.inner.first_token_logprobs, ScoreResult.from_dict)

    def retries_by_kind(self) -> dict[str, int]:
        return self.inner.retries_by_kind()

    def close(self) -> None:
        self.inner.close()
