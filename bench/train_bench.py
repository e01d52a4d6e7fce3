#!/usr/bin/python3
"""The Python side of bench/train_bench.sh: the same Llama-style architecture,
batch and optimizer as sdft's trainer, in PyTorch eager mode (Debian's
python3-torch, the same BLAS). Prints one JSON line.
    train_bench.py TOKDIR CONFIG_JSON STEPS THREADS
Also measures the fp32 matmul peak of this machine (GFLOP/s)."""
import json, math, sys, time
import numpy as np
import torch
import torch.nn.functional as F

tokdir, cfg, steps, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(1)
V, D, L, H, FF, T, B = (cfg[k] for k in ("vocab", "d_model", "n_layers", "n_heads", "d_ff", "seq_len", "batch"))
hd = D // H

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
        self.q, self.k, self.v, self.o = (torch.nn.Linear(D, D, bias=False) for _ in range(4))
        self.g, self.u = torch.nn.Linear(D, FF, bias=False), torch.nn.Linear(D, FF, bias=False)
        self.d = torch.nn.Linear(FF, D, bias=False)

def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
def rope(x, cos, sin): return x * cos + torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1) * sin

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = torch.nn.Parameter(torch.ones(D))
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        f = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        self.cos, self.sin = torch.cat([f, f], -1).cos().float(), torch.cat([f, f], -1).sin().float()
    def forward(self, idx):
        x = self.emb(idx)
        for b in self.blocks:
            h = rms(x, b.n1)
            q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (b.q(h), b.k(h), b.v(h)))
            q, k = rope(q, self.cos, self.sin), rope(k, self.cos, self.sin)
            if hasattr(torch.ops.aten, "_scaled_dot_product_attention"):
                y = torch.ops.aten._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]
            else:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + b.o(y.transpose(1, 2).reshape(B, T, D))
            h = rms(x, b.n2)
            x = x + b.d(F.silu(b.g(h)) * b.u(h))
        return rms(x, self.norm) @ self.emb.weight.t()

model = Model()
decay = [p for p in model.parameters() if p.dim() >= 2]
nodecay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                        lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
m = json.load(open(f"{tokdir}/manifest.json"))
data = np.concatenate([np.fromfile(f"{tokdir}/{s['prefix']}.bin", dtype=np.uint16) for s in m["splits"]["train"]["shards"]])
rng = np.random.default_rng(1)

def step():
    starts = rng.integers(0, len(data) - T - 1, B)
    batch = torch.from_numpy(np.stack([data[s:s + T + 1] for s in starts]).astype(np.int64))
    opt.zero_grad(set_to_none=True)
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()

for _ in range(3): step()  # warm-up
t0 = time.perf_counter()
for _ in range(steps): loss = step()
secs = time.perf_counter() - t0

# fp32 matmul peak: best of several large products.
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
best = 0.0
for _ in range(10):
    t = time.perf_counter(); torch.mm(a, b); torch.mm(a, b); torch.mm(a, b)
    best = max(best, 3 * 2 * 1024 ** 3 / (time.perf_counter() - t))
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"tokens_per_s": steps * B * T / secs, "loss": loss, "params": params, "peak_flops": best}))
