#!/usr/bin/python3
"""PyTorch peer for `leap distill` on the CPU: the same one-step DMD2 / DisBack student loop
(distill/distill_train.c) on bench/torch_dit.py's DiT, from leap's teacher file, timed per
iteration after a warm-up.

Per iteration, as leap does it (flow matching: x_t = (1 - t) x0 + t eps, v = eps - x0):
  student   x = z - v_s(z, t = 1), labels uniform over the classes
  fake      FAKE_UPDATES denoising steps on (x, y), x held fixed: t = sigmoid(N(0, 1)),
            loss mean((v_f(x_t) - (eps - x))^2), grad-norm clip 1, AdamW
  match     t ~ U[T_MIN, T_MAX], x_t = (1 - t) x + t eps
            x0_fake = x_t - t v_f(x_t);  x0_target = x_t - t v_cfg(x_t) (guided, 2B rows)
            grad = (x0_fake - x0_target) / max(mean|x - x0_target|, 1e-5) per sample
  student   loss 0.5 mean((x - stopgrad(x - grad))^2), grad-norm clip 1, AdamW
DisBack first fine-tunes a teacher copy on the initial student's samples (PATH_ITERS steps,
PATH_CHECKPOINTS snapshots) and targets the snapshots backwards, INTERVAL iterations each,
then the teacher; an iteration costs the same as DMD's.

usage: /usr/bin/python3 bench/torch_distill.py --teacher models/default/leap-fmnist.safetensors \
           --method dmd --batch 32 --fake-updates 5 --warmup 3 --iters 20 --threads 2
prints one JSON line: {"impl": "pytorch ...", "iters_per_s": ..., "seconds_per_iter": ...,
                       "cpu_seconds_per_iter": ...}
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dit import DiT, read_safetensors  # noqa: E402


def trainable(model):
    """The weights leap's trainer updates (pos_embed is the fixed sin-cos table), as leaves."""
    params = []
    for k, v in model.w.items():
        if k != "pos_embed":
            model.w[k] = v.clone().requires_grad_()
            params.append(model.w[k])
    return params


def copy_model(weights, meta):
    return DiT({k: v.clone() for k, v in weights.items()}, meta)


class Peer:
    def __init__(self, a):
        weights, meta = read_safetensors(a.teacher)
        weights = {k: v.float() for k, v in weights.items()}
        self.a, self.meta, self.weights = a, meta, weights
        self.teacher = copy_model(weights, meta)
        self.student = copy_model(weights, meta)
        self.fake = copy_model(weights, meta)
        self.s_params, self.f_params = trainable(self.student), trainable(self.fake)
        # leap's trainer: AdamW (0.9, 0.999, eps 1e-8), no weight decay, clip 1
        self.s_opt = torch.optim.AdamW(self.s_params, lr=a.lr, weight_decay=0.0, eps=1e-8)
        self.f_opt = torch.optim.AdamW(self.f_params, lr=a.lr_fake, weight_decay=0.0, eps=1e-8)
        m = self.teacher
        self.B, self.C, self.H, self.K = a.batch, m.in_ch, m.input_size, m.num_classes
        self.target = self.teacher
        self.path = []
        self.iter = 0

    def student_samples(self, grad):
        z = torch.randn(self.B, self.C, self.H, self.H)
        y = torch.randint(0, self.K, (self.B,)) if self.K > 0 else torch.zeros(self.B, dtype=torch.long)
        with torch.set_grad_enabled(grad):
            x = z - self.student.forward(z, torch.full((self.B,), 1000.0), y)[:, :self.C]
        return x, y

    def denoise_step(self, model, params, opt, x0, y):
        """One flow_v step of leap's trainer on the batch (x0, y): no label dropout here."""
        t = torch.sigmoid(torch.randn(self.B))
        eps = torch.randn_like(x0)
        tb = t[:, None, None, None]
        xt = (1 - tb) * x0 + tb * eps
        loss = torch.mean((model.forward(xt, t * 1000, y)[:, :self.C] - (eps - x0)) ** 2)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    def record_path(self):
        a = self.a
        deg = copy_model(self.weights, self.meta)
        params = trainable(deg)
        opt = torch.optim.AdamW(params, lr=a.lr_fake, weight_decay=0.0, eps=1e-8)
        k = 0
        for step in range(1, a.path_iters + 1):
            x, y = self.student_samples(False)
            self.denoise_step(deg, params, opt, x, y)
            if step * a.path_checkpoints >= (k + 1) * a.path_iters:  # leap's spacing
                self.path.append(DiT({n: v.detach().clone() for n, v in deg.w.items()}, self.meta))
                k += 1

    def pick_target(self):
        if self.a.method == "dmd":
            return self.teacher
        stage = self.iter // self.a.interval
        n = len(self.path)
        return self.path[n - 1 - stage] if stage < n else self.teacher

    def step(self):
        a, B, C = self.a, self.B, self.C
        x, y = self.student_samples(True)
        xd = x.detach()
        fake_loss = sum(self.denoise_step(self.fake, self.f_params, self.f_opt, xd, y)
                        for _ in range(a.fake_updates)) / a.fake_updates
        target = self.pick_target()
        with torch.no_grad():
            t = a.t_min + (a.t_max - a.t_min) * torch.rand(B)
            tb = t[:, None, None, None]
            xt = (1 - tb) * xd + tb * torch.randn_like(xd)
            x0_fake = xt - tb * self.fake.forward(xt, t * 1000, y)[:, :C]
            if a.cfg != 1.0 and self.K > 0:
                v = target.forward(torch.cat([xt, xt]), torch.cat([t, t]) * 1000,
                                   torch.cat([y, torch.full_like(y, target.null_class)]))[:, :C]
                v = v[B:] + a.cfg * (v[:B] - v[B:])
            else:
                v = target.forward(xt, t * 1000, y)[:, :C]
            x0_target = xt - tb * v
            norm = (xd - x0_target).abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-5)
            grad = (x0_fake - x0_target) / norm
        loss = 0.5 * torch.mean((x - (xd - grad)) ** 2)
        self.s_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.s_params, 1.0)
        self.s_opt.step()
        self.iter += 1
        return fake_loss, loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="leap's flow_v DiT .safetensors")
    ap.add_argument("--method", choices=["dmd", "disback"], default="dmd")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--fake-updates", type=int, default=5)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--lr-fake", type=float, default=2e-5)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--t-min", type=float, default=0.02)
    ap.add_argument("--t-max", type=float, default=0.98)
    ap.add_argument("--path-checkpoints", type=int, default=4)
    ap.add_argument("--path-iters", type=int, default=8)
    ap.add_argument("--interval", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    ap.add_argument("--iters", type=int, default=20, help="timed iterations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    peer = Peer(a)
    if a.method == "disback":
        peer.record_path()
    for _ in range(a.warmup):
        peer.step()
    # wall clock and this process's CPU time (all threads): on a shared machine the CPU time
    # per iteration is the measure that other jobs do not move
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.iters):
        fake_loss, dm_loss = peer.step()
    dt = (time.perf_counter() - t0) / a.iters
    cpu = (time.process_time() - c0) / a.iters
    print(json.dumps({"impl": "pytorch " + torch.__version__, "method": a.method, "batch": a.batch,
                      "fake_updates": a.fake_updates, "threads": a.threads, "iters": a.iters,
                      "seconds_per_iter": round(dt, 4), "iters_per_s": round(1 / dt, 4),
                      "cpu_seconds_per_iter": round(cpu, 4),
                      "last_fake_loss": round(fake_loss, 5), "last_dm_loss": round(dm_loss, 6)}))


if __name__ == "__main__":
    main()
