"""The README and docs/: every relative link resolves, the README stays short and lists
every page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "benchmarks" / "RESULTS.md"]

# [text](target) outside code: inline links only, the form these pages use
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _links(page: Path) -> list[str]:
    return _LINK.findall(_prose(page.read_text()))


def _anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+\s+(.+?)\s*$", _FENCE.sub("", page.read_text()), re.M)
    return {_anchor(heading) for heading in headings}


def test_the_pages_exist():
    assert len(DOCS) >= 8, DOCS


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        checks_anchor = bool(anchor) and resolved.suffix == ".md"
        if not resolved.exists() or (checks_anchor and anchor not in _anchors(resolved)):
            broken.append(target)
    assert not broken, broken


def test_the_readme_is_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_the_readme_lists_every_page_of_docs():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in _links(README)}
    missing = [page.name for page in DOCS if page.resolve() not in linked]
    assert not missing, missing


def test_the_wandb_way_and_the_quickstart_are_on_the_first_screen():
    first_screen = "\n".join(README.read_text().splitlines()[:60])
    assert "wandb.agent(sweep_id, function=sweep_train" in first_screen
    assert "## Quickstart" in first_screen


def test_the_anchor_rule_matches_github():
    assert _anchor("Several steps in one compiled loop: stacked batches") == (
        "several-steps-in-one-compiled-loop-stacked-batches"
    )
    assert _anchor("Randomness and `--seed`") == "randomness-and---seed"
