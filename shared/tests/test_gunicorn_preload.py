"""The gunicorn master imports the app's module before forking, and never builds the app."""

from __future__ import annotations

import gc
import logging
import os
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

THREADS = "flotilla.gunicorn_worker.HeadBufferingThreadWorker"


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))  # before the first import
    from flotilla import gunicorn_conf

    monkeypatch.setattr(gunicorn_conf, "_metrics_dir", str(metrics))
    monkeypatch.delenv("GUNICORN_PRELOAD_IMPORTS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield gunicorn_conf
    gc.unfreeze()


def _module(tmp_path: Path, body: str) -> str:
    name = f"preload_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(body)
    return name


FACTORY = """
CALLS = []

def create_app():
    CALLS.append(1)
    raise AssertionError("the master must not build the app")
"""


def _server(app_uri: str, worker: str = THREADS) -> Any:
    return SimpleNamespace(app=SimpleNamespace(app_uri=app_uri),
                           cfg=SimpleNamespace(wsgi_app=None, worker_class_str=worker),
                           log=logging.getLogger("test.gunicorn"))


def test_the_master_imports_the_factory_module_without_calling_the_factory(conf, tmp_path):
    name = _module(tmp_path, FACTORY)
    metrics = Path(conf._metrics_dir)
    (metrics / f"counter_{os.getpid()}.db").write_bytes(b"")  # opened by a metric at import
    (metrics / "counter_1.db").write_bytes(b"")  # another process's
    try:
        assert conf.preload_imports(_server(f"{name}:create_app()")) == name
        assert sys.modules[name].CALLS == []
        assert gc.get_freeze_count() > 0
        assert sorted(p.name for p in metrics.iterdir()) == ["counter_1.db"]
    finally:
        sys.modules.pop(name, None)


def test_a_package_whose_factory_is_lazy_has_its_web_module_imported_too(conf, tmp_path):
    """A service package names ``create_app`` through flotilla.lazy: the master asks for the
    name, so the web module (and the web stack) is imported before the fork, still not called."""
    name = f"preload_package_{uuid.uuid4().hex}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text(
        "from flotilla.lazy import lazy_attributes\n"
        f"__getattr__ = lazy_attributes(__name__, '{name}.web', ('create_app',))\n")
    (tmp_path / name / "web.py").write_text(FACTORY)
    try:
        assert conf.preload_imports(_server(f"{name}:create_app()")) == name
        assert sys.modules[f"{name}.web"].CALLS == []
        with pytest.raises(AttributeError):
            sys.modules[name].anything_else  # noqa: B018
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(f"{name}.web", None)


def test_on_starting_empties_the_metrics_directory_then_preloads(conf, tmp_path):
    name = _module(tmp_path, FACTORY)
    (Path(conf._metrics_dir) / "counter_1.db").write_bytes(b"")
    try:
        conf.on_starting(_server(f"{name}:create_app()"))
        assert name in sys.modules and sys.modules[name].CALLS == []
        assert list(Path(conf._metrics_dir).iterdir()) == []
    finally:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("how", ["app object", "gevent", "turned off"])
def test_nothing_is_imported_for_an_app_object_gevent_or_when_turned_off(conf, tmp_path, monkeypatch, how):
    name = _module(tmp_path, "app = object()\n" + FACTORY)
    server = _server(f"{name}:app" if how == "app object" else f"{name}:create_app()",
                     worker="gevent" if how == "gevent" else THREADS)
    if how == "turned off":
        monkeypatch.setenv("GUNICORN_PRELOAD_IMPORTS", "0")
    assert conf.preload_imports(server) is None
    assert name not in sys.modules


def test_a_module_that_fails_to_import_is_left_to_the_workers(conf, tmp_path, caplog):
    name = _module(tmp_path, "raise RuntimeError('broken at import')\n")
    with caplog.at_level(logging.WARNING, logger="test.gunicorn"):
        assert conf.preload_imports(_server(f"{name}:create_app()")) is None
    assert "the workers import it" in caplog.text


def test_first_use_imports_follow_their_trigger_and_variable(conf, tmp_path, monkeypatch):
    app = _module(tmp_path, FACTORY)
    companion = _module(tmp_path, "")
    monkeypatch.setattr(conf, "FIRST_USE_IMPORTS", ((app, "PRELOAD_PROBE_ON", (companion,)),))
    monkeypatch.delenv("PRELOAD_PROBE_ON", raising=False)
    try:
        conf.preload_imports(_server(f"{app}:create_app()"))
        assert companion not in sys.modules
        monkeypatch.setenv("PRELOAD_PROBE_ON", "1")
        conf.preload_imports(_server(f"{app}:create_app()"))
        assert companion in sys.modules
    finally:
        sys.modules.pop(app, None)
        sys.modules.pop(companion, None)


def test_factory_module_and_trim_heap(conf):
    assert conf.factory_module("catalog:create_app()") == "catalog"
    assert conf.factory_module("bench._floor:app") is None
    assert conf.factory_module(None) is None
    assert isinstance(conf.trim_heap(), bool)
