"""``@cached``: memoise an async function in any cache provider, with single-flight misses."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from api_core.caching.memory import MemoryCache

if TYPE_CHECKING:
    from api_core.protocols import CacheProvider

__all__ = ["CachedFunction", "cached", "default_key"]

P = ParamSpec("P")
R = TypeVar("R")

_SIMPLE = (str, int, float, bool, type(None))
_default_cache: MemoryCache | None = None


def _default() -> MemoryCache:
    global _default_cache
    if _default_cache is None:
        _default_cache = MemoryCache()
    return _default_cache


def _stable(value: Any) -> str:
    if isinstance(value, _SIMPLE):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ",".join(_stable(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_stable(k)}:{_stable(v)}" for k, v in sorted(value.items())) + "}"
    dump = getattr(value, "model_dump_json", None)
    if dump is not None:
        return f"{type(value).__qualname__}{dump()}"
    return repr(value)


def default_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``module.qualname:args``: stable across processes for plain values, pydantic models
    and containers of them. Long argument lists are hashed."""
    if not kwargs and all(type(a) in _SIMPLE for a in args):
        rendered = repr(args)
    else:
        rendered = _stable(list(args)) + _stable(kwargs)
    if len(rendered) > 200:
        rendered = hashlib.sha256(rendered.encode()).hexdigest()
    return f"{fn.__module__}.{fn.__qualname__}:{rendered}"


class CachedFunction(Generic[P, R]):
    """An async function whose results are cached; returned by :func:`cached`.

    Results are stored wrapped in a one-element list, so ``None`` results are cached too.
    """

    def __init__(
        self,
        fn: Callable[P, Awaitable[R]],
        ttl: float | None,
        key: Callable[..., str] | None,
        cache: CacheProvider | Callable[[], CacheProvider] | None,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.ttl = ttl
        self._key = key
        self._cache = cache
        self._prefix = f"{fn.__module__}.{fn.__qualname__}:"
        # A provider given directly is resolved once; a factory is called per use.
        self._fixed: CacheProvider | None = None
        if cache is not None and hasattr(cache, "get") and hasattr(cache, "set"):
            self._fixed = cache  # type: ignore[assignment]
        self._inflight: dict[str, asyncio.Future[R]] = {}

    @property
    def cache(self) -> CacheProvider:
        """The provider in use (resolved lazily when a factory was given)."""
        source = self._cache
        if source is None:
            return _default()
        if hasattr(source, "get") and hasattr(source, "set"):
            return source  # type: ignore[return-value]
        return source()

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The cache key these arguments map to."""
        if self._key is not None:
            return self._key(*args, **kwargs)
        if not kwargs:
            for arg in args:
                if type(arg) not in _SIMPLE:
                    break
            else:
                rendered = repr(args)
                if len(rendered) <= 200:
                    return self._prefix + rendered
        return default_key(self.fn, args, kwargs)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return the cached result for these arguments, computing it once on a miss."""
        key = self.key_for(*args, **kwargs)
        cache = self._fixed or self.cache
        while True:
            # The in-process cache is read without a coroutine: the hit path stays short.
            hit = cache.get_nowait(key) if type(cache) is MemoryCache else await cache.get(key)
            if hit is not None:
                return hit[0]  # type: ignore[no-any-return]
            pending = self._inflight.get(key)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The computing caller was cancelled, not us: compute (or join) afresh.
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self.fn(*args, **kwargs)
            await cache.set(key, [result], self.ttl)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: with no waiters it must not be logged
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Forget the cached result for these arguments."""
        await self.cache.delete(self.key_for(*args, **kwargs))


def cached(
    ttl: float | None = None,
    key: Callable[..., str] | None = None,
    cache: CacheProvider | Callable[[], CacheProvider] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]:
    """Cache an async function's results.

    Concurrent calls that miss on the same key share one computation (single-flight); an
    exception reaches every waiter and nothing is cached.

    Args:
        ttl: Seconds to keep a result (the provider's default when ``None``).
        key: ``key(*args, **kwargs) -> str``; default ``module.qualname:args``.
        cache: A provider, or a zero-argument factory returning one (resolved per call, so
            it can be created at app start); a process-wide ``MemoryCache`` when ``None``.

    Example:
        >>> @cached(ttl=60)
        ... async def price(sku: str) -> float: ...
        >>> # await price.invalidate("sku-1")
    """

    def decorate(fn: Callable[P, Awaitable[R]]) -> CachedFunction[P, R]:
        return CachedFunction(fn, ttl, key, cache)

    return decorate
