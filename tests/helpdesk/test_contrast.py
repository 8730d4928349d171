"""WCAG AA: every text/background colour pair our stylesheet sets reaches 4.5:1."""

from __future__ import annotations

import re
from pathlib import Path

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_every_rule_with_both_colours_passes_aa() -> None:
    pairs = 0
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS):
        bg = re.search(r"background:\s*(#[0-9a-fA-F]{3,6})", body)
        fg = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", body)
        if bg and fg:
            pairs += 1
            assert ratio(bg.group(1), fg.group(1)) >= 4.5, selector.strip()
    assert pairs >= 10


def test_secondary_text_and_links_pass_on_page_and_card_backgrounds() -> None:
    for text in ("#525c66", "#1a56a0", "#48515a"):
        for background in ("#ffffff", "#f4f6f9", "#f9fafb"):
            assert ratio(text, background) >= 4.5, (text, background)
    assert ratio("#dbe4f0", "#1d3557") >= 4.5  # nav links on the nav bar
    assert ratio("#ffffff", "#1f5fa8") >= 4.5  # primary buttons
