"""The README and docs/ link to files and sections that exist."""

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headers: lower case, punctuation dropped."""
    headers = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headers}


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` whose file or section does not exist."""
    broken = []
    for link in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        missing_section = anchor and target.suffix == ".md" and anchor not in anchors(target)
        if not target.exists() or missing_section:
            broken.append(link)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_a_missing_file_or_section_is_reported(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md) [ok](a.md#two-words) [no](a.md#three) [no](c.md) [web](https://x.y)"
    )
    assert broken_links(page) == ["a.md#three", "c.md"]


def test_the_readme_stays_a_short_read():
    # The detail lives in docs/; the README is what a newcomer reads in five minutes.
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 200
