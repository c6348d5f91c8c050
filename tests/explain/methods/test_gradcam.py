"""Grad-CAM on vision transformers: patch tokens become the grid Captum hooks, and come back unchanged."""

from __future__ import annotations

import torch
from torch import nn

from tlcore.explain import hook_count
from tlcore.explain.cam_layers import CamLayer
from tlcore.explain.methods.gradcam import token_grid


def test_token_grid_puts_each_patch_token_in_its_own_cell():
    """Token k (after the prefix) must land at row k // w, column k % w of the grid Grad-CAM sees."""

    class Tokens(nn.Module):
        def forward(self, x):
            n = x.shape[0]
            index = torch.arange(2 + 3 * 4, dtype=torch.float32)  # 2 prefix tokens, a 3 x 4 patch grid
            return index[None, :, None].expand(n, -1, 5) + 0 * x.sum()

    module = Tokens()
    layer = CamLayer("tokens", "tokens", (3, 4), 5, prefix_tokens=2)
    seen = []
    with token_grid(module, layer) as grid:
        grid.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
        out = module(torch.zeros(1, 3, 8, 8))
    assert seen[0].shape == (1, 5, 3, 4)
    assert torch.equal(seen[0][0, 0], torch.arange(12, dtype=torch.float32).reshape(3, 4) + 2)
    assert torch.equal(out, module(torch.zeros(1, 3, 8, 8)))  # the round trip leaves the tokens unchanged
    assert hook_count(module) == 0
