"""dynrcnn.config_text: a config's text is formatted once per process, to the same bytes."""

import pytest

from dynrcnn import config_text


def test_a_repeated_call_is_answered_from_the_cache():
    calls = []

    def format_code(source, style_config=None):
        calls.append(source)
        return source.upper(), True

    memo = config_text.memoised(format_code)
    assert memo("a = 1", style_config={"x": 1}) == ("A = 1", True)
    assert memo("a = 1", style_config={"x": 1}) == ("A = 1", True)
    assert calls == ["a = 1"]
    # another text or another style is formatted
    memo("b = 2", style_config={"x": 1})
    memo("a = 1", style_config={"x": 2})
    assert calls == ["a = 1", "b = 2", "a = 1"]


def test_the_cache_keeps_the_latest_texts_only():
    memo = config_text.memoised(lambda source: (source, False))
    for i in range(config_text.CACHE_SIZE + 3):
        memo(f"t{i}")
    assert len(memo.cache) == config_text.CACHE_SIZE
    assert [key[0] for key in memo.cache][-1] == f"t{config_text.CACHE_SIZE + 2}"


def test_pretty_text_is_the_same_and_formatted_once(monkeypatch):
    pytest.importorskip("mmengine")
    from mmengine.config import Config
    from mmengine.config import config as mmengine_config

    calls = []
    original = mmengine_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, "FormatCode", counting)
    cfg = Config(dict(model=dict(type="FasterRCNN", backbone=dict(depth=18)), work_dir="w"))
    plain = cfg.pretty_text
    assert len(calls) == 1
    config_text.memoise_config_formatting()
    config_text.memoise_config_formatting()  # idempotent: one layer of cache
    assert mmengine_config.FormatCode.__wrapped__ is counting
    assert cfg.pretty_text == plain and cfg.pretty_text == plain
    assert len(calls) == 2  # the first memoised call formats, the second is the cache's
    cfg.work_dir = "other"  # a changed config is formatted anew
    assert "other" in cfg.pretty_text and len(calls) == 3
