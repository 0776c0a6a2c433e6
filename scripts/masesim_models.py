"""masesim model zoo: PyTorch definitions written from the published architectures.

No pretrained weights are used (none are downloaded). Models are built on the
``meta`` device by default, so even OPT-1.3B costs no memory and no init time;
the exporter only needs shapes. Pass ``device="cpu"`` for real (seeded random)
tensors, e.g. for torch.onnx.export.

Zoo (``build_model(name)``):

* ``opt-125m``, ``opt-350m``, ``opt-1.3b``: facebook/opt-* decoder-only LMs
  (HF ``OPTForCausalLM``): learned positional embedding with 2 offset rows
  (2050 rows), pre-LN (OPT-350M: post-LN, no final LayerNorm, project_in /
  project_out 512<->1024 without bias), ReLU FFN, biases on every projection,
  LM head tied to the token embedding (no bias).
* ``bert-base``: bert-base-uncased encoder (HF ``BertModel``), GELU, post-LN,
  word + position + token-type embeddings. ``pooler=False`` by default (the
  pooler reads token 0 only, a slice the mase-graph op set does not express):
  108,891,648 parameters; with ``pooler=True`` 109,482,240.
* ``gpt2``, ``gpt2-medium``, ``gpt2-large``, ``gpt2-xl``: OpenAI GPT-2 (HF
  ``GPT2LMHeadModel`` shapes; Radford et al. 2019): token + learned position
  embeddings (50,257 x h, 1024 x h), pre-LN blocks (ln_1 -> attention -> residual,
  ln_2 -> FFN 4h with tanh-GELU -> residual), final ln_f, LM head tied to the token
  embedding (no bias), biases on every projection. HF's fused ``c_attn`` (h -> 3h) is
  written as three h -> h projections q/k/v (the same weights in three column blocks,
  the same parameters and MACs; the simulator's KV-cache and tensor-parallel rewrites
  find K and V as separate operands). ``gpt2-1.5b-dfx`` is the 1.5 B shape DFX (Hong
  et al., MICRO 2022) describes: 48 layers, hidden 1536, 24 heads (1,438,683,648
  parameters), next to the standard gpt2-xl (48 layers, 1600, 25 heads).
* ``mnist-cnn``: conv 1->16 3x3 p1, ReLU, conv 16->32 3x3 p1, ReLU, max-pool
  2x2, flatten (6272), linear 6272->1024, ReLU, linear 1024->10.

* ``mixtral-moe-layer``: one Mixtral-8x7B decoder layer (RMSNorm, GQA + RoPE attention,
  sparse MoE of 8 SwiGLU experts, top-2), with the TopKGate / MoeExperts modules that
  export as ``topk_gate`` / ``moe_experts`` nodes.
* ``mamba-block``: one Mamba-130M residual block (RMSNorm + Mamba mixer with the
  SelectiveScan module, exported as ``selective_scan``).

The attention mask is omitted (causal for OPT/GPT-2, padding for BERT): it adds no
MACs and the simulator does not model values. Position ids are a graph input.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------- OPT
OPT_CONFIGS = {
    # name: hidden, layers, heads, ffn, word_embed_proj_dim, pre_ln
    "opt-125m": dict(hidden=768, layers=12, heads=12, ffn=3072, proj=768, pre_ln=True),
    "opt-350m": dict(hidden=1024, layers=24, heads=16, ffn=4096, proj=512, pre_ln=False),
    "opt-1.3b": dict(hidden=2048, layers=24, heads=32, ffn=8192, proj=2048, pre_ln=True),
}
OPT_VOCAB = 50272
OPT_MAX_POS = 2048
OPT_POS_OFFSET = 2


class SelfAttention(nn.Module):
    """Multi-head self-attention as q/k/v projections, head reshape, transpose,
    matmul scores, scalar scale, softmax, matmul with V, reshape back, out proj.
    Sizes come from x.size() so that batch and seq stay symbolic in the export."""

    def __init__(self, hidden, heads, out_name="out_proj", scale_query=True, device=None):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.scale = self.head_dim ** -0.5
        self.scale_query = scale_query
        self.q_proj = nn.Linear(hidden, hidden, device=device)
        self.k_proj = nn.Linear(hidden, hidden, device=device)
        self.v_proj = nn.Linear(hidden, hidden, device=device)
        self.out_name = out_name
        setattr(self, out_name, nn.Linear(hidden, hidden, device=device))
        self.dropout = nn.Dropout(0.1)

    def _heads(self, t, bsz, seq):
        return t.view(bsz, seq, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        bsz, seq, hidden = x.size(0), x.size(1), x.size(2)
        q = self.q_proj(x)
        if self.scale_query:            # OPT scales the query projection
            q = q * self.scale
        q = self._heads(q, bsz, seq)
        k = self._heads(self.k_proj(x), bsz, seq)
        v = self._heads(self.v_proj(x), bsz, seq)
        scores = torch.matmul(q, k.transpose(-1, -2))
        if not self.scale_query:        # BERT scales the scores
            scores = scores * self.scale
        probs = F.softmax(scores, dim=-1)
        probs = self.dropout(probs)
        ctx = torch.matmul(probs, v)
        ctx = ctx.transpose(1, 2).contiguous().reshape(bsz, seq, hidden)
        return getattr(self, self.out_name)(ctx)


class OPTDecoderLayer(nn.Module):
    def __init__(self, hidden, heads, ffn, pre_ln, device=None):
        super().__init__()
        self.pre_ln = pre_ln
        self.self_attn = SelfAttention(hidden, heads, device=device)
        self.self_attn_layer_norm = nn.LayerNorm(hidden, device=device)
        self.fc1 = nn.Linear(hidden, ffn, device=device)
        self.fc2 = nn.Linear(ffn, hidden, device=device)
        self.final_layer_norm = nn.LayerNorm(hidden, device=device)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        residual = x
        if self.pre_ln:
            x = self.self_attn_layer_norm(x)
        x = self.dropout(self.self_attn(x))
        x = residual + x
        if not self.pre_ln:
            x = self.self_attn_layer_norm(x)
        residual = x
        if self.pre_ln:
            x = self.final_layer_norm(x)
        x = self.fc2(F.relu(self.fc1(x)))
        x = self.dropout(x)
        x = residual + x
        if not self.pre_ln:
            x = self.final_layer_norm(x)
        return x


class OPTLearnedPositionalEmbedding(nn.Embedding):
    """OPT's positional table has 2 extra rows; positions are offset by 2."""

    def __init__(self, max_pos, dim, device=None):
        super().__init__(max_pos + OPT_POS_OFFSET, dim, device=device)

    def forward(self, position_ids):
        return super().forward(position_ids + OPT_POS_OFFSET)


class OPTDecoder(nn.Module):
    def __init__(self, hidden, layers, heads, ffn, proj, pre_ln, vocab, max_pos, device=None):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, proj, device=device)
        self.embed_positions = OPTLearnedPositionalEmbedding(max_pos, hidden, device=device)
        self.project_in = nn.Linear(proj, hidden, bias=False, device=device) if proj != hidden else None
        self.project_out = nn.Linear(hidden, proj, bias=False, device=device) if proj != hidden else None
        # HF: final_layer_norm only when do_layer_norm_before (OPT-350M has none)
        self.final_layer_norm = nn.LayerNorm(hidden, device=device) if pre_ln else None
        self.layers = nn.ModuleList(
            [OPTDecoderLayer(hidden, heads, ffn, pre_ln, device=device) for _ in range(layers)])

    def forward(self, input_ids, position_ids):
        x = self.embed_tokens(input_ids)
        if self.project_in is not None:
            x = self.project_in(x)
        x = x + self.embed_positions(position_ids)
        for layer in self.layers:
            x = layer(x)
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
        if self.project_out is not None:
            x = self.project_out(x)
        return x


class OPTForCausalLM(nn.Module):
    def __init__(self, hidden, layers, heads, ffn, proj, pre_ln, vocab=OPT_VOCAB,
                 max_pos=OPT_MAX_POS, device=None):
        super().__init__()
        self.model = nn.Module()
        self.model.decoder = OPTDecoder(hidden, layers, heads, ffn, proj, pre_ln, vocab,
                                        max_pos, device=device)
        self.lm_head = nn.Linear(proj, vocab, bias=False, device=device)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight     # tied

    def forward(self, input_ids, position_ids):
        return self.lm_head(self.model.decoder(input_ids, position_ids))

    @staticmethod
    def example_inputs(batch, seq, device=None):
        ids = torch.zeros(batch, seq, dtype=torch.long, device=device)
        pos = torch.zeros(batch, seq, dtype=torch.long, device=device)
        return {"input_ids": ids, "position_ids": pos}


def opt(name, device="meta", **override):
    cfg = dict(OPT_CONFIGS[name])
    cfg.update(override)
    return OPTForCausalLM(device=device, **cfg)


# ------------------------------------------------------------------------- GPT-2
# name: layers, hidden, heads (FFN 4 x hidden, vocabulary 50,257, 1,024 positions).
GPT2_CONFIGS = {
    "gpt2": dict(layers=12, hidden=768, heads=12),            # 124 M
    "gpt2-medium": dict(layers=24, hidden=1024, heads=16),    # 355 M
    "gpt2-large": dict(layers=36, hidden=1280, heads=20),     # 774 M
    "gpt2-xl": dict(layers=48, hidden=1600, heads=25),        # 1.5 B (HF gpt2-xl)
    "gpt2-1.5b-dfx": dict(layers=48, hidden=1536, heads=24),  # 1.5 B as DFX describes it
}
GPT2_VOCAB = 50257
GPT2_MAX_POS = 1024


def gpt2_params(layers, hidden, vocab=GPT2_VOCAB, max_pos=GPT2_MAX_POS, ffn=None):
    """Hand count of GPT-2's parameters with the tied LM head counted once:
    wte V*h + wpe P*h + per layer (ln_1 2h; q, k, v, c_proj 4(h^2 + h); ln_2 2h;
    c_fc h*f + f; mlp.c_proj f*h + h) + ln_f 2h. With f = 4h a layer is 12h^2 + 13h."""
    f = 4 * hidden if ffn is None else ffn
    h = hidden
    per_layer = 2 * h + 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h)
    return vocab * h + max_pos * h + layers * per_layer + 2 * h


class GPT2MLP(nn.Module):
    def __init__(self, hidden, ffn, device=None):
        super().__init__()
        self.c_fc = nn.Linear(hidden, ffn, device=device)
        self.act = nn.GELU(approximate="tanh")      # HF gelu_new: the tanh form
        self.c_proj = nn.Linear(ffn, hidden, device=device)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    def __init__(self, hidden, heads, ffn, eps, device=None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=eps, device=device)
        # GPT-2 scales the scores by 1/sqrt(head_dim) (not the query)
        self.attn = SelfAttention(hidden, heads, out_name="c_proj", scale_query=False,
                                  device=device)
        self.resid_dropout = nn.Dropout(0.1)
        self.ln_2 = nn.LayerNorm(hidden, eps=eps, device=device)
        self.mlp = GPT2MLP(hidden, ffn, device=device)

    def forward(self, x):
        x = x + self.resid_dropout(self.attn(self.ln_1(x)))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    """GPT-2: wte + wpe, pre-LN blocks, ln_f, LM head tied to wte (no bias)."""

    def __init__(self, layers, hidden, heads, ffn=None, vocab=GPT2_VOCAB, max_pos=GPT2_MAX_POS,
                 eps=1e-5, device=None):
        super().__init__()
        ffn = 4 * hidden if ffn is None else ffn
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(vocab, hidden, device=device)
        self.transformer.wpe = nn.Embedding(max_pos, hidden, device=device)
        self.transformer.drop = nn.Dropout(0.1)
        self.transformer.h = nn.ModuleList(
            [GPT2Block(hidden, heads, ffn, eps, device=device) for _ in range(layers)])
        self.transformer.ln_f = nn.LayerNorm(hidden, eps=eps, device=device)
        self.lm_head = nn.Linear(hidden, vocab, bias=False, device=device)
        self.lm_head.weight = self.transformer.wte.weight                # tied

    def forward(self, input_ids, position_ids):
        t = self.transformer
        x = t.drop(t.wte(input_ids) + t.wpe(position_ids))
        for block in t.h:
            x = block(x)
        return self.lm_head(t.ln_f(x))

    @staticmethod
    def example_inputs(batch, seq, device=None):
        ids = torch.zeros(batch, seq, dtype=torch.long, device=device)
        pos = torch.zeros(batch, seq, dtype=torch.long, device=device)
        return {"input_ids": ids, "position_ids": pos}


def gpt2(name="gpt2", device="meta", **override):
    cfg = dict(GPT2_CONFIGS[name])
    cfg.update(override)
    return GPT2LMHeadModel(device=device, **cfg)


# -------------------------------------------------------------------------- BERT
class BertLayer(nn.Module):
    def __init__(self, hidden, heads, ffn, device=None):
        super().__init__()
        self.attention = SelfAttention(hidden, heads, out_name="dense", scale_query=False,
                                       device=device)
        self.attention_layer_norm = nn.LayerNorm(hidden, eps=1e-12, device=device)
        self.intermediate = nn.Linear(hidden, ffn, device=device)
        self.output = nn.Linear(ffn, hidden, device=device)
        self.output_layer_norm = nn.LayerNorm(hidden, eps=1e-12, device=device)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        a = self.dropout(self.attention(x))
        x = self.attention_layer_norm(a + x)
        h = self.dropout(self.output(F.gelu(self.intermediate(x))))
        return self.output_layer_norm(h + x)


class BertModel(nn.Module):
    def __init__(self, hidden=768, layers=12, heads=12, ffn=3072, vocab=30522, max_pos=512,
                 type_vocab=2, pooler=False, device=None):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(vocab, hidden, device=device)
        self.embeddings.position_embeddings = nn.Embedding(max_pos, hidden, device=device)
        self.embeddings.token_type_embeddings = nn.Embedding(type_vocab, hidden, device=device)
        self.embeddings.LayerNorm = nn.LayerNorm(hidden, eps=1e-12, device=device)
        self.embeddings.dropout = nn.Dropout(0.1)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            [BertLayer(hidden, heads, ffn, device=device) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden, device=device) if pooler else None

    def forward(self, input_ids, token_type_ids, position_ids):
        e = self.embeddings
        x = e.word_embeddings(input_ids) + e.token_type_embeddings(token_type_ids)
        x = x + e.position_embeddings(position_ids)
        x = e.dropout(e.LayerNorm(x))
        for layer in self.encoder.layer:
            x = layer(x)
        if self.pooler is not None:
            return x, torch.tanh(self.pooler(x[:, 0]))
        return x

    @staticmethod
    def example_inputs(batch, seq, device=None):
        z = torch.zeros(batch, seq, dtype=torch.long, device=device)
        return {"input_ids": z, "token_type_ids": z.clone(), "position_ids": z.clone()}


def bert_base(device="meta", pooler=False):
    return BertModel(pooler=pooler, device=device)


# --------------------------------------------------------------------- MNIST CNN
class MnistCNN(nn.Module):
    def __init__(self, device=None):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, device=device)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, device=device)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 14 * 14, 1024, device=device)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(1024, 10, device=device)

    def forward(self, x):
        x = self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x)))))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))

    @staticmethod
    def example_inputs(batch, seq=None, device=None):
        return {"x": torch.zeros(batch, 1, 28, 28, device=device)}


def mnist_cnn(device="meta"):
    return MnistCNN(device=device)


# ------------------------------------------------------------ LLaMA-style decoder
class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight (the exporter fuses it into rms_norm)."""

    def __init__(self, dim, eps=1e-5, device=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, device=device))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    """Rotary position embedding (GPT-NeoX / HF LLaMA layout): x*cos + rotate_half(x)*sin;
    cos and sin are [seq, head_dim] tables (graph inputs, computed by the host like
    position ids)."""
    return x * cos + rotate_half(x) * sin


class LlamaAttention(nn.Module):
    """Grouped-query attention: heads/kv_heads query heads share one key/value head.
    The queries are viewed as [batch, kv_heads, group, seq, head_dim] and the keys and
    values as [batch, kv_heads, 1, seq, head_dim], so the two matmuls broadcast over the
    group: no repeated K/V (HF's repeat_kv has the same head order, h // group)."""

    def __init__(self, hidden, heads, kv_heads, device=None):
        super().__init__()
        self.heads, self.kv_heads = heads, kv_heads
        self.group = heads // kv_heads
        self.head_dim = hidden // heads
        self.scale = self.head_dim ** -0.5
        kv = kv_heads * self.head_dim
        self.q_proj = nn.Linear(hidden, hidden, bias=False, device=device)
        self.k_proj = nn.Linear(hidden, kv, bias=False, device=device)
        self.v_proj = nn.Linear(hidden, kv, bias=False, device=device)
        self.o_proj = nn.Linear(hidden, hidden, bias=False, device=device)

    def forward(self, x, cos, sin):
        b, s, h = x.size()
        q = self.q_proj(x).view(b, s, self.kv_heads, self.group, self.head_dim)
        k = self.k_proj(x).view(b, s, self.kv_heads, 1, self.head_dim)
        v = self.v_proj(x).view(b, s, self.kv_heads, 1, self.head_dim)
        q, k, v = (t.permute(0, 2, 3, 1, 4) for t in (q, k, v))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        ctx = torch.matmul(F.softmax(scores, dim=-1), v)        # [b, kvh, group, s, d]
        return self.o_proj(ctx.permute(0, 3, 1, 2, 4).reshape(b, s, h))


class LlamaMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, hidden, ffn, device=None):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, ffn, bias=False, device=device)
        self.up_proj = nn.Linear(hidden, ffn, bias=False, device=device)
        self.down_proj = nn.Linear(ffn, hidden, bias=False, device=device)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, hidden, heads, kv_heads, ffn, eps, device=None):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden, eps, device=device)
        self.self_attn = LlamaAttention(hidden, heads, kv_heads, device=device)
        self.post_attention_layernorm = RMSNorm(hidden, eps, device=device)
        self.mlp = LlamaMLP(hidden, ffn, device=device)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    """HF LlamaForCausalLM's structure: token embedding, pre-norm decoder layers (RMSNorm,
    RoPE, GQA, SwiGLU), final RMSNorm, untied LM head; no biases."""

    def __init__(self, hidden, layers, heads, kv_heads, ffn, vocab, eps=1e-5, device=None):
        super().__init__()
        self.head_dim = hidden // heads
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(vocab, hidden, device=device)
        self.model.layers = nn.ModuleList([LlamaDecoderLayer(hidden, heads, kv_heads, ffn, eps,
                                                             device=device)
                                           for _ in range(layers)])
        self.model.norm = RMSNorm(hidden, eps, device=device)
        self.lm_head = nn.Linear(hidden, vocab, bias=False, device=device)

    def forward(self, input_ids, cos, sin):
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))

    def example_inputs(self, batch, seq, device=None):
        return {"input_ids": torch.zeros(batch, seq, dtype=torch.long, device=device),
                "cos": torch.zeros(seq, self.head_dim, device=device),
                "sin": torch.zeros(seq, self.head_dim, device=device)}


# TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json):
# hidden 2048, 22 layers, 32 heads, 4 key/value heads, intermediate 5632, vocab 32000,
# rms_norm_eps 1e-5.
TINYLLAMA = dict(hidden=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000, eps=1e-5)


def tinyllama(device="meta", **override):
    cfg = dict(TINYLLAMA)
    cfg.update(override)
    return LlamaForCausalLM(device=device, **cfg)


# ------------------------------------------------------ mixture of experts (Mixtral)
# ONNX export: MoeExperts and SelectiveScan export as one node each in the project's
# operator domain "masesim" (version 1; torch.onnx.export(..., custom_opsets=
# MASESIM_OPSET)), which scripts/onnx_to_graph.py converts to moe_experts /
# selective_scan. TopKGate exports as ordinary ops (TopK -> Softmax -> ScatterElements),
# a pattern the importer recognises as topk_gate.
MASESIM_DOMAIN = "masesim"
MASESIM_OPSET = {MASESIM_DOMAIN: 1}


def _moe_dense(x, gates, w1, w2, w3, activation):
    act = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}[activation]
    y = torch.zeros_like(x)
    for e in range(w1.shape[0]):
        h = act(x @ w1[e].t())
        if w3 is not None:
            h = h * (x @ w3[e].t())
        y = y + gates[..., e:e + 1] * (h @ w2[e].t())
    return y


class _MoeExpertsOnnx(torch.autograd.Function):
    """MoeExperts as the ONNX node masesim::MoeExperts(x, gates, w1, w2, w3) (used only
    while torch.onnx.export runs)."""

    @staticmethod
    def forward(ctx, x, gates, w1, w2, w3, top_k, activation, routing):
        return _moe_dense(x, gates, w1, w2, w3, activation)

    @staticmethod
    def symbolic(g, x, gates, w1, w2, w3, top_k, activation, routing):
        attrs = {"top_k_i": top_k, "activation_s": activation}
        for k, v in routing.items():
            attrs[k + {"routing": "_s", "expert_load": "_i", "routing_seed": "_i",
                       "expert_parallel": "_i"}.get(k, "_s")] = v
        out = g.op(MASESIM_DOMAIN + "::MoeExperts", x, gates, w1, w2, w3, **attrs)
        out.setType(x.type())
        return out


def _selective_scan(u, delta, B, C, A_log, D):
    A = -torch.exp(A_log)
    dA = torch.exp(delta.unsqueeze(-1) * A)                   # [b, l, d, n]
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(2)          # [b, l, d, n]
    h = torch.zeros(u.shape[0], u.shape[2], A.shape[1], device=u.device, dtype=u.dtype)
    ys = []
    for t in range(u.shape[1]):
        h = dA[:, t] * h + dBu[:, t]
        ys.append((h * C[:, t].unsqueeze(1)).sum(-1))
    return torch.stack(ys, dim=1) + u * D


class _SelectiveScanOnnx(torch.autograd.Function):
    """SelectiveScan as the ONNX node masesim::SelectiveScan(u, delta, B, C, A_log, D)."""

    @staticmethod
    def forward(ctx, u, delta, B, C, A_log, D):
        return _selective_scan(u, delta, B, C, A_log, D)

    @staticmethod
    def symbolic(g, u, delta, B, C, A_log, D):
        out = g.op(MASESIM_DOMAIN + "::SelectiveScan", u, delta, B, C, A_log, D)
        out.setType(u.type())
        return out


class TopKGate(nn.Module):
    """Mixtral's routing: softmax over all experts, top-k, renormalised over the k (the
    same as a softmax over the k largest logits); returns [..., experts] gates, zero for
    the experts a token is not routed to. Exported as one `topk_gate` node (fx), and to ONNX
    as TopK -> Softmax -> ScatterElements, which onnx_to_graph.py imports as topk_gate."""
    mase_op = "topk_gate"

    def __init__(self, top_k):
        super().__init__()
        self.top_k = top_k

    def forward(self, logits):
        w, idx = torch.topk(logits, self.top_k, dim=-1)
        return torch.zeros_like(logits).scatter(-1, idx, torch.softmax(w, dim=-1))

    def mase_node(self):
        return {}, {"top_k": self.top_k}


class MoeExperts(nn.Module):
    """`experts` SwiGLU FFNs (Mixtral's w1 gate, w3 up, w2 down, stacked [E, ...]);
    y = sum_e gates[e] * w2_e(silu(w1_e x) * w3_e x). Computed densely here (gates are zero
    for unrouted experts); exported as one `moe_experts` node whose cost follows the
    tokens routed to each expert. `routing`: the node's routing attributes (docs/
    graph-format.md: routing balanced / load / seeded, expert_load, routing_seed,
    expert_parallel). ONNX: one masesim::MoeExperts node (attributes top_k, activation and
    the routing attributes)."""
    mase_op = "moe_experts"

    def __init__(self, experts, hidden, ffn, top_k, routing=None, device=None):
        super().__init__()
        self.top_k = top_k
        self.routing = dict(routing or {})
        self.w1 = nn.Parameter(torch.empty(experts, ffn, hidden, device=device))
        self.w3 = nn.Parameter(torch.empty(experts, ffn, hidden, device=device))
        self.w2 = nn.Parameter(torch.empty(experts, hidden, ffn, device=device))
        if device != "meta":
            for w in (self.w1, self.w2, self.w3):
                nn.init.normal_(w, std=0.02)

    def forward(self, x, gates):
        if torch.onnx.is_in_onnx_export():
            return _MoeExpertsOnnx.apply(x, gates, self.w1, self.w2, self.w3, self.top_k,
                                         "silu", self.routing)
        return _moe_dense(x, gates, self.w1, self.w2, self.w3, "silu")

    def mase_node(self):
        return ({"w1": self.w1, "w2": self.w2, "w3": self.w3},
                dict({"top_k": self.top_k, "activation": "silu"}, **self.routing))


class SparseMoeBlock(nn.Module):
    """Mixtral's block_sparse_moe: router linear (no bias), top-k gates, experts."""

    def __init__(self, hidden, ffn, experts, top_k, routing=None, device=None):
        super().__init__()
        self.gate = nn.Linear(hidden, experts, bias=False, device=device)
        self.router = TopKGate(top_k)
        self.experts = MoeExperts(experts, hidden, ffn, top_k, routing, device=device)

    def forward(self, x):
        return self.experts(x, self.router(self.gate(x)))


class MixtralDecoderLayer(nn.Module):
    """One Mixtral decoder layer: RMSNorm, GQA attention with RoPE (LlamaAttention),
    residual, RMSNorm, sparse MoE, residual."""

    def __init__(self, hidden, heads, kv_heads, ffn, experts, top_k, eps=1e-5, routing=None,
                 device=None):
        super().__init__()
        self.head_dim = hidden // heads
        self.input_layernorm = RMSNorm(hidden, eps, device=device)
        self.self_attn = LlamaAttention(hidden, heads, kv_heads, device=device)
        self.post_attention_layernorm = RMSNorm(hidden, eps, device=device)
        self.block_sparse_moe = SparseMoeBlock(hidden, ffn, experts, top_k, routing,
                                               device=device)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.block_sparse_moe(self.post_attention_layernorm(x))

    def example_inputs(self, batch, seq, device=None):
        return {"x": torch.zeros(batch, seq, self.self_attn.heads * self.head_dim, device=device),
                "cos": torch.zeros(seq, self.head_dim, device=device),
                "sin": torch.zeros(seq, self.head_dim, device=device)}


# Mixtral-8x7B (mistralai/Mixtral-8x7B-v0.1 config.json): hidden 4096, 32 heads, 8 key/
# value heads, intermediate 14336, 8 local experts, 2 experts per token, rms_norm_eps 1e-5.
MIXTRAL = dict(hidden=4096, heads=32, kv_heads=8, ffn=14336, experts=8, top_k=2, eps=1e-5)


def mixtral_layer(device="meta", **override):
    cfg = dict(MIXTRAL)
    cfg.update(override)
    return MixtralDecoderLayer(device=device, **cfg)


# ------------------------------------------------------------ Mamba (selective SSM)
class SelectiveScan(nn.Module):
    """Mamba's selective scan (Gu & Dao 2023, Algorithm 2) over u, delta [batch, seq, d]
    and B, C [batch, seq, n]: h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t,
    y_t = C_t h_t + D u_t with A = -exp(A_log). A sequential loop here; exported as one
    `selective_scan` node (ONNX: one masesim::SelectiveScan node)."""
    mase_op = "selective_scan"

    def __init__(self, d_inner, d_state, device=None):
        super().__init__()
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a).to(device) if device else torch.log(a))
        self.D = nn.Parameter(torch.ones(d_inner, device=device))

    def forward(self, u, delta, B, C):
        if torch.onnx.is_in_onnx_export():
            return _SelectiveScanOnnx.apply(u, delta, B, C, self.A_log, self.D)
        return _selective_scan(u, delta, B, C, self.A_log, self.D)

    def mase_node(self):
        return {"A_log": self.A_log, "D": self.D}, {}


class MambaMixer(nn.Module):
    """The Mamba block (mamba_simple.Mamba's structure): in_proj to x and z (2 d_inner, no
    bias), causal depthwise conv1d (d_conv, padding d_conv - 1, the last d_conv - 1 outputs
    dropped), SiLU, x_proj to dt, B, C (dt_rank + 2 d_state, no bias), dt_proj (bias) and
    softplus, the selective scan, y * silu(z), out_proj (no bias)."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, device=None):
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False, device=device)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, padding=d_conv - 1,
                                groups=self.d_inner, device=device)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False,
                                device=device)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, device=device)
        self.scan = SelectiveScan(self.d_inner, d_state, device=device)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False, device=device)

    def forward(self, hidden):
        x, z = self.in_proj(hidden).chunk(2, dim=-1)
        x = self.conv1d(x.transpose(1, 2))[..., :-(self.d_conv - 1)]
        x = F.silu(x).transpose(1, 2)
        dt, B, C = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state],
                               dim=-1)
        dt = F.softplus(self.dt_proj(dt))
        y = self.scan(x, dt, B, C)
        return self.out_proj(y * F.silu(z))


class MambaBlock(nn.Module):
    """A Mamba residual block (mamba_ssm Block): x + mixer(RMSNorm(x))."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, eps=1e-5, device=None):
        super().__init__()
        self.d_model = d_model
        self.norm = RMSNorm(d_model, eps, device=device)
        self.mixer = MambaMixer(d_model, d_state, d_conv, expand, device=device)

    def forward(self, x):
        return x + self.mixer(self.norm(x))

    def example_inputs(self, batch, seq, device=None):
        return {"x": torch.zeros(batch, seq, self.d_model, device=device)}


# Mamba-130M's block (state-spaces/mamba-130m config: d_model 768, 24 layers; mamba_simple
# defaults d_state 16, d_conv 4, expand 2, dt_rank ceil(768 / 16) = 48).
MAMBA_130M = dict(d_model=768, d_state=16, d_conv=4, expand=2)


def mamba_block(device="meta", **override):
    cfg = dict(MAMBA_130M)
    cfg.update(override)
    return MambaBlock(device=device, **cfg)


# ------------------------------------------------------------------ recurrent
class RecurrentTagger(nn.Module):
    """A small sequence tagger: two-layer LSTM, GRU, linear head (batch first)."""

    def __init__(self, inputs=8, hidden=16, classes=4, device=None):
        super().__init__()
        self.inputs = inputs
        self.lstm = nn.LSTM(inputs, hidden, num_layers=2, batch_first=True, device=device)
        self.gru = nn.GRU(hidden, hidden // 2, batch_first=True, device=device)
        self.head = nn.Linear(hidden // 2, classes, device=device)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.gru(y)
        return self.head(z)

    def example_inputs(self, batch, seq, device=None):
        return {"x": torch.zeros(batch, seq, self.inputs, device=device)}


# ------------------------------------------------------------------- torchvision
def _image_inputs(batch, seq=None, device=None, size=224):
    return {"x": torch.zeros(batch, 3, size, size, device=device)}


def _torchvision(builder, device, **kw):
    """A torchvision architecture without weights (built on the CPU with torchvision's
    random init, then moved to `device`)."""
    import torchvision.models as tvm
    m = getattr(tvm, builder)(weights=None, **kw) if builder != "VisionTransformer" else \
        tvm.VisionTransformer(**kw)
    if device is not None:
        m = m.to(device)
    m.example_inputs = _image_inputs
    return m


# ViT-Ti/16 (DeiT-tiny shapes): 224x224, patch 16, 12 layers, 3 heads, hidden 192, MLP 768.
VIT_TINY = dict(image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                mlp_dim=768)


def vit_tiny(device="meta", **override):
    cfg = dict(VIT_TINY)
    cfg.update(override)
    m = _torchvision("VisionTransformer", device, **cfg)
    size = cfg["image_size"]
    m.example_inputs = lambda batch, seq=None, device=None: _image_inputs(batch, seq, device, size)
    return m


# -------------------------------------------------------------------------- zoo
# name -> (constructor(device), symbolic dims used by the inputs)
ZOO = {
    "opt-125m": (lambda device="meta": opt("opt-125m", device), ("batch", "seq")),
    "opt-350m": (lambda device="meta": opt("opt-350m", device), ("batch", "seq")),
    "opt-1.3b": (lambda device="meta": opt("opt-1.3b", device), ("batch", "seq")),
    "bert-base": (lambda device="meta": bert_base(device), ("batch", "seq")),
    "mnist-cnn": (lambda device="meta": mnist_cnn(device), ("batch",)),
    "resnet-18": (lambda device="meta": _torchvision("resnet18", device), ("batch",)),
    "mobilenet-v2": (lambda device="meta": _torchvision("mobilenet_v2", device), ("batch",)),
    "vit-tiny": (lambda device="meta": vit_tiny(device), ("batch",)),
    "tinyllama-1.1b": (lambda device="meta": tinyllama(device), ("batch", "seq")),
    "mixtral-moe-layer": (lambda device="meta": mixtral_layer(device), ("batch", "seq")),
    "mamba-block": (lambda device="meta": mamba_block(device), ("batch", "seq")),
}
for _name in GPT2_CONFIGS:
    ZOO[_name] = (lambda device="meta", _n=_name: gpt2(_n, device), ("batch", "seq"))

# Published parameter counts (tied embeddings counted once).
PUBLISHED_PARAMS = {
    "opt-125m": 125_239_296,
    "opt-350m": 331_196_416,
    "opt-1.3b": 1_315_758_080,
    "bert-base": 108_891_648,      # BertModel without pooler (with pooler: 109,482,240)
    "mnist-cnn": 6_438_602,
    "resnet-18": 11_689_512,       # torchvision resnet18
    "mobilenet-v2": 3_504_872,     # torchvision mobilenet_v2
    "vit-tiny": 5_717_416,         # ViT-Ti/16
    "tinyllama-1.1b": 1_100_048_384,
    # one Mixtral-8x7B decoder layer: attention 2·4096² + 2·4096·1024, router 4096·8,
    # 8 experts × 3 × 4096·14336, two RMSNorm weights 2·4096
    "mixtral-moe-layer": 1_451_270_144,
    # Mamba-130M's block: norm 768, in_proj 768·3072, conv1d 1536·4 + 1536, x_proj 1536·80,
    # dt_proj 48·1536 + 1536, A_log 1536·16, D 1536, out_proj 1536·768
    "mamba-block": 3_771_648,
    # GPT-2, tied LM head once (gpt2_params; HF GPT2LMHeadModel reports the same)
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "gpt2-1.5b-dfx": 1_438_683_648,    # DFX's 1.5 B shape (48 x 1536, 24 heads)
}


def build_model(name, device="meta"):
    if name not in ZOO:
        raise KeyError(f"unknown model '{name}'; zoo: {', '.join(sorted(ZOO))}")
    m = ZOO[name][0](device)
    m.eval()
    return m


def example_inputs(model, dims, device="meta"):
    """Sample inputs of the model at concrete dims {'batch': b, 'seq': s}."""
    return model.example_inputs(dims.get("batch", 1), dims.get("seq", 1), device=device)


def count_params(module):
    """Parameters counted once each (tied weights are one Parameter object)."""
    return sum(p.numel() for p in module.parameters())
