"""The post-norm decoder layer: shapes, logits only on request, PyTorch parity."""
import torch
from torch import nn

from depict.models.layers import PostNormDecoderLayer


def test_shapes_and_logits_on_request():
    layer = PostNormDecoderLayer(16, 4, ffn_channels=32, kv_dims=8).eval()
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 8)
    out, logits = layer(query, memory)
    assert out.shape == (2, 5, 16) and logits is None
    out2, logits = layer(query, memory, return_logits=True)
    assert logits.shape == (2, 4, 5, 7)
    torch.testing.assert_close(out, out2, atol=1e-5, rtol=1e-5)


def test_matches_torch_post_norm_decoder_layer():
    """Same computation as torch.nn.TransformerDecoderLayer(norm_first=False)."""
    ours = PostNormDecoderLayer(16, 4, ffn_channels=24).eval()
    ref = nn.TransformerDecoderLayer(16, 4, dim_feedforward=24, batch_first=True).eval()
    with torch.no_grad():
        pairs = ((ours.self_attn, ref.self_attn), (ours.cross_attn, ref.multihead_attn))
        for attn, theirs in pairs:
            w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)
            b_q, b_k, b_v = theirs.in_proj_bias.chunk(3)
            for proj, w, b in ((attn.q_proj, w_q, b_q), (attn.k_proj, w_k, b_k),
                               (attn.v_proj, w_v, b_v)):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
            attn.out_proj.weight.copy_(theirs.out_proj.weight)
            attn.out_proj.bias.copy_(theirs.out_proj.bias)
        ours.ffn.fc1.load_state_dict(ref.linear1.state_dict())
        ours.ffn.fc2.load_state_dict(ref.linear2.state_dict())
        for mine, theirs in ((ours.norm1, ref.norm1), (ours.norm2, ref.norm2),
                             (ours.norm3, ref.norm3)):
            mine.load_state_dict(theirs.state_dict())
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    torch.testing.assert_close(ours(query, memory)[0], ref(query, memory),
                               atol=1e-5, rtol=1e-5)
