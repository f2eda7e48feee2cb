"""The VQ-VAE's prior: a causal transformer over the raster-ordered code grid,

    p(k) = prod_i p(k_i | k_<i),

trained on whole sequences at once (teacher forcing under a causal mask), sampled one
position at a time with every layer's keys and values cached (the usual decoder cache): a
position's logits are those of the full causal pass, at a cost linear in the positions
where recomputing the prefix at every position is quadratic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Cache = list[tuple[torch.Tensor, torch.Tensor] | None]  # per layer: keys, values [B, H, t, d]


class CodePrior(nn.Module):
    """p(k) = prod_i p(k_i | k_<i) over the raster-ordered code grid."""

    def __init__(self, codebook_size: int, positions: int, dim: int, layers: int,
                 heads: int) -> None:
        super().__init__()
        self.bos = codebook_size  # an extra token that starts every sequence
        self.token = nn.Embedding(codebook_size + 1, dim)
        self.position = nn.Parameter(torch.zeros(1, positions, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, codebook_size)
        mask = torch.triu(torch.full((positions, positions), float("-inf")), diagonal=1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, L] -> logits [B, L, K] for each position given the ones before it."""
        inputs = torch.cat([torch.full_like(codes[:, :1], self.bos), codes[:, :-1]], dim=1)
        n = inputs.shape[1]
        h = self.token(inputs) + self.position[:, :n]
        return self.head(self.transformer(h, mask=self.causal_mask[:n, :n], is_causal=True))

    def loss(self, codes: torch.Tensor) -> torch.Tensor:
        logits = self.logits(codes)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))

    @torch.no_grad()
    def sample(self, n: int, positions: int, device: torch.device) -> torch.Tensor:
        """n code sequences, drawn position by position (ancestral sampling)."""
        codes = torch.empty(n, positions, dtype=torch.long, device=device)
        token = torch.full((n,), self.bos, dtype=torch.long, device=device)
        cache: Cache = [None] * len(self.transformer.layers)
        for i in range(positions):
            probs = self.next_logits(token, i, cache).float().softmax(-1)
            token = codes[:, i] = torch.multinomial(probs, 1).squeeze(1)
        return codes

    def next_logits(self, token: torch.Tensor, i: int, cache: Cache) -> torch.Tensor:
        """The logits [B, K] of position i given the token [B] at position i - 1 (the start
        token at 0) and the positions before it, whose keys and values `cache` holds (and
        is extended with position i's)."""
        h = self.token(token[:, None]) + self.position[:, i:i + 1]
        for j, layer in enumerate(self.transformer.layers):
            h, cache[j] = _cached_layer(layer, h, cache[j])
        return self.head(h[:, 0])


def _cached_layer(layer: nn.TransformerEncoderLayer, h: torch.Tensor,
                  cache: tuple[torch.Tensor, torch.Tensor] | None
                  ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """A norm-first encoder layer (dropout 0) on the newest position h [B, 1, D], attending
    to the cached positions and itself: all it may see under the causal mask."""
    attention, (b, _, d) = layer.self_attn, h.shape
    heads = attention.num_heads

    def split(x: torch.Tensor) -> torch.Tensor:  # [B, 1, D] -> [B, heads, 1, D / heads]
        return x.view(b, 1, heads, d // heads).transpose(1, 2)

    q, k, v = map(split, F.linear(layer.norm1(h), attention.in_proj_weight,
                                  attention.in_proj_bias).chunk(3, dim=-1))
    if cache is not None:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
    mixed = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, 1, d)
    h = h + attention.out_proj(mixed)
    h = h + layer.linear2(layer.activation(layer.linear1(layer.norm2(h))))
    return h, (k, v)
