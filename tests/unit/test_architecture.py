"""The house rules of the code base, read from its imports (no database).

Dependencies run one way, orders -> projections -> config -> eventstore; the
domain is plain Python; no two modules import each other, even through
others; the product holds no benchmark code; modules stay small.
"""

import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Highest first: a package may import those below it, never those above.
LAYERS = ["orders", "projections", "config", "eventstore"]
PRODUCT = LAYERS
MAX_MODULE_LINES = 400


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*PRODUCT, "bench", cache_dir=None, include_external_packages=True)
    finally:
        sys.path.remove(str(ROOT))


def _imports(graph, package: str):
    for module in sorted(graph.find_descendants(package) | {package}):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            yield module, imported


def test_packages_import_only_the_packages_below_them(graph):
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{module} -> {imported}"
        for package in LAYERS
        for module, imported in _imports(graph, package)
        if imported.split(".")[0] in rank and rank[imported.split(".")[0]] < rank[package]
    ]
    assert upward == []


def test_the_order_domain_imports_nothing_but_itself_and_the_standard_library(graph):
    foreign = [
        f"{module} -> {imported}"
        for module, imported in _imports(graph, "orders.domain")
        if not imported.startswith("orders.domain") and imported.split(".")[0] not in sys.stdlib_module_names
    ]
    assert foreign == []


def test_no_module_imports_itself_through_others(graph):
    modules = {m for package in PRODUCT for m in graph.find_descendants(package) | {package}}
    cycles = set()
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported in modules and imported != module:
                back = graph.find_shortest_chain(importer=imported, imported=module)
                if back:
                    cycles.add(" -> ".join((module, *back)))
    assert sorted(cycles) == []


def test_nothing_in_the_product_imports_the_benchmarks(graph):
    assert [f"{m} -> {i}" for p in PRODUCT for m, i in _imports(graph, p) if i.split(".")[0] == "bench"] == []


def test_benchmarks_use_only_public_names_of_the_product():
    private = []
    for path in (ROOT / "bench").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("from ") and stripped.split()[1].split(".")[0] in PRODUCT:
                names = stripped.split(" import ", 1)[1]
                if any(name.strip().startswith("_") for name in names.strip("()").split(",")):
                    private.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert private == []


def test_no_benchmark_files_in_the_product_packages():
    found = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "bench" in path.name or "crud" in path.name
    ]
    assert found == []


def test_product_modules_stay_small():
    large = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert large == []


def test_the_read_side_follows_the_event_types_the_domain_defines():
    from orders.domain.events import AGGREGATE_TYPE, EVENT_TYPES
    from orders.domain.inventory import INVENTORY_EVENT_TYPES
    from projections import order_events

    assert order_events.ORDER_AGGREGATE == AGGREGATE_TYPE
    assert set(EVENT_TYPES) == order_events.ORDER_EVENTS
    assert set(INVENTORY_EVENT_TYPES) == order_events.INVENTORY_EVENTS
    from orders.domain.product import PRODUCT_AGGREGATE, PRODUCT_EVENT_TYPES

    assert order_events.PRODUCT_AGGREGATE == PRODUCT_AGGREGATE
    assert set(PRODUCT_EVENT_TYPES) == order_events.PRODUCT_EVENTS
    assert order_events.LINE_CHANGES <= order_events.ORDER_EVENTS
