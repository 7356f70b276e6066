"""The pages' scripts share one core (static/js/core.js): no page script keeps its own copy of
message formatting, element building, escaping, fetch with CSRF or China-time formatting, every
page loads the core before its own scripts, and every string a page formats uses one placeholder
style (gettext's ``%(name)s``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
TEMPLATES = ROOT / "app" / "templates"
CORE = JS / "core.js"

#: What only core.js may hold: a page script doing any of these has a copy of a core helper.
COPIES = {
    "own fmt": re.compile(r"function\s+fmt\s*\("),
    "own element builder": re.compile(r"function\s+(el|h)\s*\("),
    "own escaping": re.compile(r"function\s+esc(ape)?\s*\(|&amp;"),
    "a placeholder regex": re.compile(r"replace\(\s*/(\\\{|%\\\()"),
    "own fetch": re.compile(r"\bfetch\s*\("),
    "own CSRF header": re.compile(r"X-CSRFToken|csrf-token"),
    "own China-time formatting": re.compile(r"Asia/Shanghai|timeZone"),
}


def page_scripts() -> list[Path]:
    return sorted(p for p in JS.rglob("*.js") if p != CORE)


def test_core_holds_the_shared_helpers():
    core = CORE.read_text(encoding="utf-8")
    assert "window.citygrid = {" in core
    for name in ("esc", "fmt", "el", "csrf", "api", "time"):
        assert re.search(rf"\b{name}: {name}\b", core), name


@pytest.mark.parametrize("script", page_scripts(), ids=lambda p: str(p.relative_to(JS)))
def test_no_page_script_keeps_a_copy_of_a_core_helper(script):
    text = script.read_text(encoding="utf-8")
    found = [what for what, pattern in COPIES.items() if pattern.search(text)]
    assert not found, f"{script.name}: {', '.join(found)} (use window.citygrid)"


def _script_sources(template: str) -> list[str]:
    return re.findall(r"filename='js/([^']+)'", template)


def test_every_page_loads_the_core_before_its_own_scripts():
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    assert _script_sources(base) == ["core.js"]
    assert base.index("js/core.js") < base.index("{% block scripts %}")
    pages = [p for p in TEMPLATES.glob("*.html") if p.name != "base.html"]
    with_scripts = [p for p in pages if _script_sources(p.read_text(encoding="utf-8"))]
    assert {p.name for p in with_scripts} >= {"map.html", "command.html", "desk.html", "case.html", "building.html"}
    for page in with_scripts:
        text = page.read_text(encoding="utf-8")
        if page.name.startswith("_"):
            # A partial: only ever included into a page's scripts block.
            users = [p for p in pages if f'include "{page.name}"' in p.read_text(encoding="utf-8")]
            assert users, page.name
            assert all('{% extends "base.html" %}' in p.read_text(encoding="utf-8") for p in users), page.name
            continue
        assert '{% extends "base.html" %}' in text, page.name
        assert "core.js" not in _script_sources(text), f"{page.name} loads the core twice"
        scripts_block = text[text.index("{% block scripts %}"):]
        for src in _script_sources(text):
            assert f"js/{src}" in scripts_block, f"{page.name}: {src} outside the scripts block (before the core)"


BRACE = re.compile(r"(?<![{%])\{[a-z_]+\}(?!\})")


def test_translated_strings_use_one_placeholder_style():
    """Strings handed to the pages' scripts are filled by citygrid.fmt, which knows ``%(name)s`` only."""
    offenders = []
    for module in (ROOT / "app").rglob("*.py"):
        for msg in re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', module.read_text(encoding="utf-8")):
            if BRACE.search(msg):
                offenders.append(f"{module.name}: {msg}")
    for po in (ROOT / "app" / "translations").rglob("*.po"):
        text = po.read_text(encoding="utf-8")
        if "python-brace-format" in text:
            offenders.append(f"{po.parent.parent.name}: python-brace-format messages")
    assert not offenders, offenders


PHONE = ["base", "duty", "report", "queue", "tasks", "start"]


def test_the_phone_page_is_split_by_concern():
    """map.html loads the phone modules in order (shared parts first, start-up last), each small."""
    modules = sorted(p.stem for p in (JS / "phone").glob("*.js"))
    assert modules == sorted(PHONE)
    template = (TEMPLATES / "map.html").read_text(encoding="utf-8")
    loaded = [s for s in _script_sources(template)]
    assert loaded == ["map.js", "offline-queue.js"] + [f"phone/{m}.js" for m in PHONE]
    for m in PHONE:
        lines = (JS / "phone" / f"{m}.js").read_text(encoding="utf-8").count("\n")
        assert lines < 500, f"phone/{m}.js has {lines} lines"
    assert not (JS / "report.js").exists()
