"""Every relative link (and #anchor) in README.md and docs/ points at a file and heading that exist."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose(path) -> list[str]:
    """The page's lines outside fenced code, inline code removed."""
    lines, fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def _anchors(path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in _prose(path) if line.startswith("#")}


def broken_links(page) -> list[str]:
    broken = []
    for line in _prose(page):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
                broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A Title\n[ok](#a-title) [gone](missing.md) [no heading](#nowhere) [web](https://x.org) `[code](no.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md", "#nowhere"]
