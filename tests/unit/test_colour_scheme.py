"""The stylesheet follows the system's light or dark setting, and in both
schemes its colour pairs keep WCAG AA contrast (4.5:1 for text)."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()

# (text, background): every pair the stylesheet puts text on.
PAIRS = [
    ("--ink", "--bg"),
    ("--ink", "--panel"),
    ("--ink", "--head-bg"),
    ("--ink", "--hover-bg"),
    ("--ink", "--input-bg"),
    ("--muted", "--panel"),
    ("--muted", "--bg"),
    ("--accent", "--panel"),
    ("--accent", "--bg"),
    ("--accent-ink", "--accent"),
    ("--bad", "--panel"),
    ("--info-ink", "--info-bg"),
    ("--ok-ink", "--ok-bg"),
    ("--bad-ink", "--bad-bg"),
    ("--purple-ink", "--purple-bg"),
    ("--ink", "--warn-bg"),
    ("--ink", "--ok-bg"),
    ("--ink", "--bad-bg"),
    ("--ink", "--info-bg"),
    ("--bar-ink", "--bar-bg"),
    ("--bar-muted", "--bar-bg"),
    ("--code-ink", "--code-bg"),
]


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def schemes() -> dict[str, dict[str, str]]:
    light = _variables(re.search(r":root\s*\{(.*?)\}", CSS, re.S).group(1))
    dark_block = re.search(r"@media \(prefers-color-scheme: dark\)\s*\{\s*:root\s*\{(.*?)\}", CSS, re.S)
    assert dark_block, "no dark scheme following the system setting"
    return {"light": light, "dark": {**light, **_variables(dark_block.group(1))}}


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_pair_has_aa_contrast(scheme):
    colours = schemes()[scheme]
    weak = {
        (fg, bg): round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in PAIRS
        if contrast(colours[fg], colours[bg]) < 4.5
    }
    assert not weak, f"{scheme}: {weak}"


def test_the_danger_button_text_has_aa_contrast():
    light, dark = schemes()["light"], schemes()["dark"]
    dark_button_ink = re.search(r"button\.danger \{ color: (#[0-9a-fA-F]{6}); \}", CSS).group(1)
    assert contrast(light["--accent-ink"], light["--bad"]) >= 4.5
    assert contrast(dark_button_ink, dark["--bad"]) >= 4.5


def test_the_dark_scheme_redefines_the_surfaces_and_the_page_declares_both():
    light, dark = schemes()["light"], schemes()["dark"]
    assert "color-scheme: light dark" in CSS
    for name in ("--bg", "--panel", "--ink", "--muted", "--line", "--accent", "--input-bg", "--head-bg"):
        assert light[name] != dark[name], name
    assert luminance(dark["--bg"]) < 0.05 < luminance(light["--bg"])


def test_rules_use_the_variables_not_fixed_colours():
    rules = re.sub(r":root\s*\{.*?\}", "", CSS, flags=re.S)
    fixed = re.findall(r"#[0-9a-fA-F]{3,6}\b", rules)
    assert fixed == ["#0d1117"], fixed  # the one dark-only override: text on the dark scheme's red button
