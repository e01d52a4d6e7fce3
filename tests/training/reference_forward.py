#!/usr/bin/python3
"""An independent forward pass of an exported sdft model in a few lines of
PyTorch (Hugging Face Llama layout), for the interop test.
    reference_forward.py RUNDIR TOKENS_CSV OUT_LOGITS.bin
Reads RUNDIR/config.json and RUNDIR/model.safetensors (parsed by hand), runs
the tokens and writes the logits as float32."""
import json, struct, sys
import torch

run, toks, out = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], sys.argv[3]
cfg = json.load(open(f"{run}/config.json"))
raw = open(f"{run}/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
W = {k: torch.frombuffer(bytearray(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]), dtype=torch.float32)
        .reshape(v["shape"]) for k, v in header.items() if k != "__metadata__"}

D, H, L, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["rms_norm_eps"]
KV = cfg.get("num_key_value_heads", H)
hd, T = D // H, len(toks)
def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
f = torch.outer(torch.arange(T, dtype=torch.float64), inv)
cos, sin = torch.cat([f, f], -1).cos().float(), torch.cat([f, f], -1).sin().float()
def rope(x): return x * cos + torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1) * sin
x = W["model.embed_tokens.weight"][torch.tensor(toks)]
mask = torch.full((T, T), float("-inf")).triu(1)
for i in range(L):
    p = f"model.layers.{i}."
    h = rms(x, W[p + "input_layernorm.weight"])
    q, k, v = (h @ W[p + f"self_attn.{n}_proj.weight"].T for n in "qkv")
    q = q.view(T, H, hd).transpose(0, 1)
    k, v = (t.view(T, KV, hd).transpose(0, 1).repeat_interleave(H // KV, 0) for t in (k, v))
    a = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / hd ** 0.5 + mask, -1) @ v
    x = x + a.transpose(0, 1).reshape(T, D) @ W[p + "self_attn.o_proj.weight"].T
    h = rms(x, W[p + "post_attention_layernorm.weight"])
    g, u = h @ W[p + "mlp.gate_proj.weight"].T, h @ W[p + "mlp.up_proj.weight"].T
    x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
x = rms(x, W["model.norm.weight"])
head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
open(out, "wb").write((x @ head.T).contiguous().numpy().tobytes())
