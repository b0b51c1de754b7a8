"""Drawings of networks and of alpha over a search, and `python -m tfnas.nets draw`."""

import numpy as np
from commands import run_module
from PIL import Image

from tfnas.nets.spaces import demo
from tfnas.plots import draw_net, plot_alpha_history
from tfnas.search.supernet import derive_choices


def _size(path):
    with Image.open(path) as image:
        return image.size


def test_a_deeper_network_draws_wider_and_colors_follow_the_kernels(tmp_path):
    space = demo()
    deep = draw_net(derive_choices(space, [0] * 6), tmp_path / "deep.png")
    shallow = draw_net(derive_choices(space, [0, 6, 0, 6, 0, 6]), tmp_path / "shallow.png")
    assert _size(deep)[0] > _size(shallow)[0]  # three blocks fewer
    all_3x3 = draw_net(space.select([0] * 6), tmp_path / "k3.png")
    all_7x7 = draw_net(space.select([4] * 6), tmp_path / "k7.png")
    pixels_3 = np.asarray(Image.open(all_3x3).convert("RGB")).reshape(-1, 3)
    pixels_7 = np.asarray(Image.open(all_7x7).convert("RGB")).reshape(-1, 3)
    orange_7x7 = np.array([0xE6, 0x55, 0x0D])
    assert (np.abs(pixels_7 - orange_7x7).sum(1) < 10).sum() > 10 * (
        np.abs(pixels_3 - orange_7x7).sum(1) < 10
    ).sum()


def test_alpha_history_plot_has_a_panel_per_choice_block(tmp_path):
    space = demo()
    uniform = [
        np.full(len(b.candidates), 1 / len(b.candidates)).tolist() for b in space.choice_blocks
    ]
    path = plot_alpha_history(space, [1, 2, 3], [uniform] * 3, tmp_path / "alpha.png")
    width, height = _size(path)
    assert width > 600 and height > 300
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file


def test_net_draw_command(tmp_path):
    out = tmp_path / "net.png"
    result = run_module("tfnas.nets", "draw", "mobilenet_v2", f"--out={out}")
    assert result.returncode == 0, result.stderr
    assert out.exists() and _size(out)[0] > 500
