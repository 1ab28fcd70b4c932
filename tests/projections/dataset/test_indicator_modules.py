"""Each indicator is one module holding its definition, its counting and its published figure,
the API serves every one of them, and the README links each module a newcomer looks for."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

from projections.dataset import indicators

ROOT = Path(__file__).resolve().parents[3]


def _modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(indicators.__path__)]


def test_every_indicator_module_is_in_the_registry_the_api_lists() -> None:
    served = [definition.id for definition in indicators.INDICATORS]
    # a module serving one indicator two ways (by month, and as of a day) holds both
    modules = [sys.modules[f"{indicators.__name__}.{name}"] for name in _modules()]
    held = [d.id for m in modules for d in (m.DEFINITION, getattr(m, "ON_A_DAY", None)) if d]
    assert sorted(held) == sorted(served)
    assert len(set(served)) == len(served)


def test_each_monthly_indicator_is_defined_counted_and_published_by_its_own_module() -> None:
    for spec in indicators.MONTHLY:
        module = sys.modules[spec.model.__module__]
        assert module.__name__.startswith(f"{indicators.__name__}."), spec.indicator.id
        assert module.INDICATOR is spec and module.DEFINITION is spec.indicator, spec.indicator.id
        backlog = getattr(module, "BACKLOG", None)
        assert spec.counts.__module__ == module.__name__ or (
            backlog is not None and spec.counts == backlog.counts), spec.indicator.id
        assert spec.query in vars(module).values(), spec.indicator.id


def test_the_readme_links_each_indicator_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The indicators", 1)[1].split("\n## ", 1)[0]
    for name in _modules():
        path = f"projections/dataset/indicators/{name}.py"
        assert f"]({path})" in section, path
        assert (ROOT / path).is_file(), path
