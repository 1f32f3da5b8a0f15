"""mmengine's config text, formatted once per process instead of once per use.

A training asks mmengine for ``Config.pretty_text`` of the same config about six times (the run folder's record, the
work dir's dump, the log's config block, the runtime info hook and each checkpoint's meta), and each time mmengine
formats the whole text with yapf: on a 2-core CPU about a third of a second each, most of a tiny test training's
fixed cost. yapf's ``FormatCode`` is a pure function of its arguments, so its result is kept for the texts already
formatted in this process: the config texts, files and checkpoints are byte-identical with and without it.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

#: formatted texts kept per process (a process formats one config, or a handful of variants of one)
CACHE_SIZE = 8


def memoised(format_code):
    """``format_code`` (yapf's ``FormatCode``) with its results kept for the last :data:`CACHE_SIZE` argument sets.

    Args:
        format_code (callable): ``FormatCode(unformatted_source, style_config=None, **kwargs)``.

    Returns:
        callable: The same function, answering a repeated call from its cache; ``.cache`` is the cache.
    """
    cache: OrderedDict = OrderedDict()

    @functools.wraps(format_code)
    def wrapper(unformatted_source, *args, **kwargs):
        key = (unformatted_source, repr(args), repr(sorted(kwargs.items())))
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        result = format_code(unformatted_source, *args, **kwargs)
        cache[key] = result
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return result

    wrapper.cache = cache
    wrapper.memoised = True
    return wrapper


def memoise_config_formatting() -> None:
    """Make mmengine's ``Config.pretty_text`` format each distinct config text once in this process (idempotent)."""
    from mmengine.config import config as mmengine_config

    if not getattr(mmengine_config.FormatCode, "memoised", False):
        mmengine_config.FormatCode = memoised(mmengine_config.FormatCode)
