"""The demo builds a tiny LLaVA once when no default backbone exists and reports a pixel in the image."""

from __future__ import annotations

import re

import torch

from helpers_demo import demo

torch.set_num_threads(1)


def test_demo_builds_once_and_prints_a_peak_inside_the_image(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(demo, "backbone_missing", lambda: "backbone default-llava cannot be assembled: (test)")
    monkeypatch.setattr(demo, "CACHE", tmp_path / "cache")
    assert demo.main() == 0
    first = capsys.readouterr().out
    assert "building a tiny random-weight LLaVA" in first and (tmp_path / "cache" / "tiny-llava" / "config.json").is_file()
    assert demo.main() == 0
    second = capsys.readouterr().out
    assert "building" not in second
    x, y = map(float, re.search(r"pixel \(([\d.]+), ([\d.]+)\)", second).groups())
    w, h = map(int, re.search(r"on a (\d+)x(\d+) image", second).groups())
    assert 0 <= x < w and 0 <= y < h
    assert second.splitlines()[-1].split("[")[0] == first.splitlines()[-1].split("[")[0]  # deterministic
