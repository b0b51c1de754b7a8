"""Shared fixtures: the read-only published reference data (`../shared/anchors`)."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def anchors_dir() -> Path | None:
    """The anchors folder: $TFNAS_ANCHORS, else ../shared/anchors next to the repo."""
    candidate = Path(os.environ.get("TFNAS_ANCHORS", REPO_ROOT.parent / "shared" / "anchors"))
    return candidate if candidate.is_dir() else None


@pytest.fixture
def anchors() -> Path:
    path = anchors_dir()
    if path is None:
        pytest.skip("published reference data absent (set TFNAS_ANCHORS or clone beside ../shared)")
    return path


@pytest.fixture
def anchor_net_configs(anchors: Path) -> dict[str, Path]:
    """The authors' released net.config files, by network name."""
    suffix = ".net.config.json"
    files = {p.name[: -len(suffix)]: p for p in (anchors / "archs").glob(f"*{suffix}")}
    if not files:
        pytest.skip(f"no *{suffix} files under {anchors / 'archs'}")
    return files
