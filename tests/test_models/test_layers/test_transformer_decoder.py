"""The post-norm decoder layer against PyTorch: output, logits on request, and
``nn.TransformerDecoderLayer`` parity."""
import torch
from torch import nn

from depict.models.layers import PostNormDecoderLayer


def _copy_attention(ours, theirs: nn.MultiheadAttention) -> None:
    """Copies PyTorch's attention weights (packed or separate q/k/v) into ours."""
    if theirs._qkv_same_embed_dim:
        weights = theirs.in_proj_weight.chunk(3)
    else:
        weights = (theirs.q_proj_weight, theirs.k_proj_weight, theirs.v_proj_weight)
    for proj, w, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), weights,
                          theirs.in_proj_bias.chunk(3)):
        proj.weight.copy_(w)
        proj.bias.copy_(b)
    ours.out_proj.load_state_dict(theirs.out_proj.state_dict())


def test_logits_and_output_with_a_narrower_memory():
    """kv_dims=8 < 16: the output is PyTorch's post-norm layer written out with
    ``nn.MultiheadAttention(kdim=vdim=8)``; the logits on request are q kᵀ / √4
    of the cross-attention's own projections, their softmax is PyTorch's
    attention map, and asking for them leaves the output unchanged."""
    layer = PostNormDecoderLayer(16, 4, ffn_channels=32, kv_dims=8).eval()
    self_ref = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    cross_ref = nn.MultiheadAttention(16, 4, kdim=8, vdim=8, batch_first=True).eval()
    with torch.no_grad():
        _copy_attention(layer.self_attn, self_ref)
        _copy_attention(layer.cross_attn, cross_ref)
        for norm in (layer.norm1, layer.norm2, layer.norm3):  # not the identity LN
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 8)
    out, logits = layer(query, memory)
    assert logits is None
    out2, logits = layer(query, memory, return_logits=True)
    torch.testing.assert_close(out2, out, atol=1e-5, rtol=1e-5)

    ln = torch.nn.functional.layer_norm
    with torch.no_grad():
        x = ln(query + self_ref(query, query, query, need_weights=False)[0], (16, ),
               layer.norm1.weight, layer.norm1.bias)
        attended, weights = cross_ref(x, memory, memory, average_attn_weights=False)
        x = ln(x + attended, (16, ), layer.norm2.weight, layer.norm2.bias)
        ffn = layer.ffn.fc2(torch.relu(layer.ffn.fc1(x)))
        expected = ln(x + ffn, (16, ), layer.norm3.weight, layer.norm3.bias)
        # q kᵀ / √d_head per head from the cross-attention's projections of the
        # self-attended queries: (B, Nq, 16) -> (B, 4, Nq, 4)
        first = ln(query + layer.self_attn(query), (16, ), layer.norm1.weight,
                   layer.norm1.bias)
        q = layer.cross_attn.q_proj(first).reshape(2, 5, 4, 4).transpose(1, 2)
        k = layer.cross_attn.k_proj(memory).reshape(2, 7, 4, 4).transpose(1, 2)
        expected_logits = q @ k.transpose(-1, -2) / 2.0
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert logits.shape == (2, 4, 5, 7)
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits.softmax(-1), weights, atol=1e-6, rtol=1e-5)


def test_matches_torch_post_norm_decoder_layer():
    """Same computation as torch.nn.TransformerDecoderLayer(norm_first=False)."""
    ours = PostNormDecoderLayer(16, 4, ffn_channels=24).eval()
    ref = nn.TransformerDecoderLayer(16, 4, dim_feedforward=24, batch_first=True).eval()
    with torch.no_grad():
        _copy_attention(ours.self_attn, ref.self_attn)
        _copy_attention(ours.cross_attn, ref.multihead_attn)
        ours.ffn.fc1.load_state_dict(ref.linear1.state_dict())
        ours.ffn.fc2.load_state_dict(ref.linear2.state_dict())
        for mine, theirs in ((ours.norm1, ref.norm1), (ours.norm2, ref.norm2),
                             (ours.norm3, ref.norm3)):
            mine.load_state_dict(theirs.state_dict())
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    torch.testing.assert_close(ours(query, memory)[0], ref(query, memory),
                               atol=1e-5, rtol=1e-5)
