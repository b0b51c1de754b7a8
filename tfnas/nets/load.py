"""Turns what a user names (a registered name, a tfnas spec file, a net.config) into a spec."""

from __future__ import annotations

import os

# Imported for their side effect: registering the reference networks and spaces.
import tfnas.nets.reference_nets
import tfnas.nets.spaces  # noqa: F401
from tfnas.errors import SpecError
from tfnas.io.json_files import parse_json, read_text
from tfnas.nets import netconfig, spec_json
from tfnas.nets.registry import NETS, SPACES
from tfnas.nets.spec import NetSpec, SearchSpace


def load_net_or_space(source: str, resolution: int | None = None) -> NetSpec | SearchSpace:
    """Loads a network or search space by registered name or from a JSON file.

    Args:
        source: A registered network or space name (`proxyless_mobile`,
            `proxyless_imagenet`), a tfnas spec file, or a `net.config` file.
        resolution: Input resolution to use instead of the spec's own.

    Returns:
        The spec.

    Raises:
        SpecError: One line naming `source`: unknown name (listing the
            registered ones), unreadable file, or the bad field.
    """
    if source in NETS:
        spec = NETS.get(source)
    elif source in SPACES:
        spec = SPACES.get(source)
    elif os.path.isfile(source):
        data = parse_json(read_text(source, SpecError), source, SpecError)
        if netconfig.looks_like_net_config(data):
            spec = netconfig.load_net_config(source)
        else:
            spec = spec_json.load_spec(source)
    else:
        raise SpecError(
            f"{source!r} is neither a registered name nor a file. Networks: "
            f"{', '.join(NETS.names())}. Search spaces: {', '.join(SPACES.names())}. "
            "Files: a tfnas spec (.json) or a ProxylessNAS net.config."
        )
    if resolution is not None:
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise SpecError(f"expected a positive integer, got {resolution!r}", "resolution")
        spec = spec.with_resolution(resolution)
    return spec


def load_net(source: str, resolution: int | None = None) -> NetSpec:
    """Like `load_net_or_space`, but requires a concrete network (not a search space)."""
    spec = load_net_or_space(source, resolution)
    if not isinstance(spec, NetSpec):
        raise SpecError(
            f"{source!r} is a search space, not a network; choose an architecture from it "
            "first (or name a network: " + ", ".join(NETS.names()) + ")"
        )
    return spec
