"""PyTorch's runner for the peer benchmark (started by scripts/bench-peers.ts).

Matmul, and the GPT and LSTM training steps: nanoGPT's model (model.py: pre-norm blocks, causal
self-attention through F.scaled_dot_product_attention as nanoGPT does when it is available, exact
GELU, lm_head tied to wte) and torch.nn.LSTM, from the initial weights and data that nabla wrote
to the spec's safetensors file, trained with torch.optim.AdamW. Timing mirrors scripts/peers/spec.ts.

Run: python3 scripts/peers/torch_peers.py SPEC.json   (prints one JSON line last)
"""

import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    """The file's F32 / I32 tensors (int32 ids become int64, what embedding and losses take)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dtype = {"F32": np.float32, "I32": np.int32}[e["dtype"]]
        arr = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=dtype).reshape(e["shape"])
        t = torch.from_numpy(arr.copy())
        out[name] = t.long() if dtype == np.int32 else t
    return out


def take(tensors, prefix):
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


# ---- nanoGPT (model.py), dropout 0 ---------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c["nEmbd"], 3 * c["nEmbd"])
        self.c_proj = nn.Linear(c["nEmbd"], c["nEmbd"])
        self.n_head = c["nHead"]

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c["nEmbd"], 4 * c["nEmbd"])
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c["nEmbd"], c["nEmbd"])

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["nEmbd"])
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c["nEmbd"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(c["vocabSize"], c["nEmbd"]),
                wpe=nn.Embedding(c["blockSize"], c["nEmbd"]),
                h=nn.ModuleList([Block(c) for _ in range(c["nLayer"])]),
                ln_f=nn.LayerNorm(c["nEmbd"]),
            )
        )
        self.lm_head = nn.Linear(c["nEmbd"], c["vocabSize"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx, targets):
        T = idx.size(1)
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


# ---- timing (as spec.ts) -------------------------------------------------------------------------


def now_ms():
    return time.perf_counter() * 1000


def summarize(samples):
    s = sorted(samples)
    m = len(s) // 2
    median = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
    return {"median": median, "best": s[0], "samples": samples}


def time_step(step, p):
    l0 = step()
    t = now_ms()
    l1 = step()
    estimate = now_ms() - t
    warmup = 2
    t = now_ms()
    while now_ms() - t < p["warmMs"] - estimate:
        step()
        warmup += 1
    reps = p["fixedReps"]
    if reps is None:
        reps = min(p["maxReps"], max(p["minReps"], math.ceil(p["budgetMs"] / max(estimate, 1e-3))))
    samples = []
    for _ in range(reps):
        t = now_ms()
        step()
        samples.append(now_ms() - t)
    return {**summarize(samples), "losses": [l0, l1], "warmup": warmup}


def time_matmul(n, mm, p):
    t = now_ms()
    warm = 0
    while warm < 1 or now_ms() - t < p["matmulWarmMs"]:
        mm()
        warm += 1
    samples = []
    t = now_ms()
    while len(samples) < max(p["minReps"], p["fixedReps"] or 0) or now_ms() - t < p["matmulMs"]:
        s = now_ms()
        mm()
        samples.append(now_ms() - s)
    ms = summarize(samples)
    gf = lambda x: 2 * n**3 / (x * 1e6)  # noqa: E731
    return {"median": gf(ms["median"]), "best": gf(ms["best"]), "samples": [gf(x) for x in samples]}


# ---- workloads -----------------------------------------------------------------------------------


def adamw(spec, params):
    o = spec["adamw"]
    return torch.optim.AdamW(
        params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weightDecay"]
    )


def stepper(model, opt, loss_of):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def gpt_step(spec, tensors):
    model = GPT(spec["gpt"])
    model.load_state_dict(take(tensors, "gpt."))
    model.train()
    data = take(tensors, "gpt_data.")
    return stepper(model, adamw(spec, model.parameters()), lambda: model(data["idx"], data["targets"]))


def lstm_step(spec, tensors):
    c = spec["lstm"]
    lstm = nn.LSTM(c["inputSize"], c["hiddenSize"])
    lstm.load_state_dict(take(tensors, "lstm."))
    data = take(tensors, "lstm_data.")

    def loss_of():
        out, _ = lstm(data["x"])  # (T, B, H)
        return F.mse_loss(out[-1], data["y"])

    return stepper(lstm, adamw(spec, lstm.parameters()), loss_of)


def attempt(result, workload, fn):
    try:
        fn()
    except Exception as e:  # report the failure, keep measuring the other workloads
        result["errors"][workload] = f"{type(e).__name__}: {e}"
        print(f"  torch {workload} failed: {result['errors'][workload]}", file=sys.stderr)


def main():
    with open(sys.argv[-1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    result = {
        "framework": "torch",
        "version": torch.__version__,
        "backend": "cpu",
        "threads": spec["threads"],
        "actualThreads": torch.get_num_threads(),
        "matmul": {},
        "errors": {},
        "notes": [],
    }
    tensors = read_safetensors(spec["data"])
    p = spec["timing"]
    for w in spec["workloads"]:
        print(f"  torch {spec['threads']}t: {w}", file=sys.stderr)
        if w == "matmul":

            def run_matmul():
                for n in spec["matmulSizes"]:
                    g = torch.Generator().manual_seed(n)
                    a = torch.randn(n, n, generator=g)
                    b = torch.randn(n, n, generator=g)
                    result["matmul"][str(n)] = time_matmul(n, lambda: torch.matmul(a, b), p)

            attempt(result, w, run_matmul)
        elif w == "gpt":
            attempt(result, w, lambda: result.__setitem__("gpt", time_step(gpt_step(spec, tensors), p)))
        else:
            attempt(result, w, lambda: result.__setitem__("lstm", time_step(lstm_step(spec, tensors), p)))
    print()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
