"""nanoGPT's "baby GPT" recipe (shakespeare_char on a CPU) in PyTorch, as a reference for
`nabla train --preset baby-shakespeare`: same data split, model, optimizer, schedule and clip.

It reports the validation loss three ways, so that nabla's figures can be compared like for like:
  estimate  nanoGPT's estimate_loss: mean over 20 random batches of 12 windows (what its README quotes)
  spread    mean over 20 x 12 windows with evenly spread starts (nabla's in-training estimate)
  full      mean over every non-overlapping window of the validation split

  python3 scripts/reference/baby_gpt_torch.py [--model gpt|lstm] [--data ../shared/data/tinyshakespeare.txt]
      [--seed 1337] [--threads 1] [--iters 2000]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

p = argparse.ArgumentParser()
p.add_argument("--data", default="../shared/data/tinyshakespeare.txt")
p.add_argument("--seed", type=int, default=1337)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--iters", type=int, default=2000)
p.add_argument("--model", choices=["gpt", "lstm"], default="gpt")
args = p.parse_args()
torch.manual_seed(args.seed)
torch.set_num_threads(args.threads)

text = open(args.data, encoding="utf-8").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
train, val = data[:n], data[n:]
T, B, L, H, C = 64, 12, 4, 4, 128
V = len(chars)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, bias=False)
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)
        self.ln_2 = nn.LayerNorm(C, bias=False)
        self.c_fc = nn.Linear(C, 4 * C, bias=False)
        self.mlp_proj = nn.Linear(4 * C, C, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, H, C // H).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C, bias=False)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        for name, prm in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight"):
                nn.init.normal_(prm, 0.0, 0.02 / math.sqrt(2 * L))

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


class LSTMLanguageModel(nn.Module):
    """nabla's RNNLanguageModel as `--model lstm` builds it: L stacked LSTM layers of width C,
    embedding and head uniform(-0.1, 0.1) and tied, head bias zero."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(V, C)
        self.rnn = nn.LSTM(C, C, num_layers=L, batch_first=True)
        self.decoder = nn.Linear(C, V)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        self.decoder.weight = self.encoder.weight

    def forward(self, idx, targets):
        out, _ = self.rnn(self.encoder(idx))
        return F.cross_entropy(self.decoder(out).reshape(-1, V), targets.reshape(-1))


model = GPT() if args.model == "gpt" else LSTMLanguageModel()
decay = [q for q in model.parameters() if q.dim() >= 2]
no_decay = [q for q in model.parameters() if q.dim() < 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
    lr=1e-3,
    betas=(0.9, 0.99),
)


def lr_at(it, warmup=100, decay_iters=2000, lr=1e-3, min_lr=1e-4):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    ratio = min(1.0, (it - warmup) / (decay_iters - warmup))
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def windows(split, starts):
    x = torch.stack([split[i : i + T] for i in starts])
    y = torch.stack([split[i + 1 : i + 1 + T] for i in starts])
    return x, y


@torch.no_grad()
def evaluate():
    model.eval()
    last = len(val) - T - 1
    est = [model(*windows(val, torch.randint(last + 1, (B,)).tolist())).item() for _ in range(20)]
    starts = [round(i * last / (20 * B - 1)) for i in range(20 * B)]
    spread = [model(*windows(val, starts[i : i + B])).item() for i in range(0, 20 * B, B)]
    full_starts = list(range(0, len(val) - T, T))
    tot = 0.0
    for i in range(0, len(full_starts), 64):
        s = full_starts[i : i + 64]
        tot += model(*windows(val, s)).item() * len(s)
    model.train()
    return sum(est) / len(est), sum(spread) / len(spread), tot / len(full_starts), len(full_starts)


t0 = time.time()
for it in range(args.iters + 1):
    if it % 250 == 0:
        e, s, f, nw = evaluate()
        print(f"step {it}: val estimate {e:.4f} | spread {s:.4f} | full {f:.4f} ({nw} windows) | {time.time() - t0:.1f} s", flush=True)
    if it == args.iters:
        break
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    loss = model(*windows(train, torch.randint(len(train) - T, (B,)).tolist()))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
print(f"train loss at the last step {loss.item():.4f}; {time.time() - t0:.1f} s")
