"""test_python.py: the cclz package under a launcher (tests/python.sh runs it on 2 and 3
ranks): collectives on numpy arrays and torch tensors, blocking and not, futures, errors,
compressors with their state and counters, the compressed reduce-scatter and the FSDP hook,
the DDP comm hook (exact equals plain DDP, 8-bit within its bound, a NaN skips the step on
every rank, checkpoint and resume equal an uninterrupted run, a short training reaches its
accuracy), and the robust allreduce with MoNNA. Rank 0 prints PASS/FAIL lines, each agreed
by every rank."""
import os
import shutil
import sys
import tempfile
import threading

import numpy as np
import torch
import torch.distributed as dist

import cclz
import cclz.torch

comm = cclz.Communicator.from_env()
rank, size = comm.rank, comm.size
failed = 0


def report(ok: bool, what: str) -> None:
    """PASS only where every rank passed."""
    global failed
    flag = np.array([1 if ok else 0], dtype=np.int32)
    comm.allreduce(flag, op="min")
    if not flag[0]:
        failed += 1
    if rank == 0:
        print(f"{'PASS' if flag[0] else 'FAIL'} python ranks={size}: {what}", flush=True)


def raises(exc, fn, *args, **kw) -> bool:
    try:
        fn(*args, **kw)
    except exc:
        return True
    except Exception as e:  # the wrong class
        print(f"rank {rank}: {fn.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
    return False


# ---- collectives --------------------------------------------------------------------------
x = np.arange(1000, dtype=np.float64) + rank
comm.allreduce(x)
ok = np.array_equal(x, np.arange(1000) * size + size * (size - 1) / 2)
t = torch.arange(7, dtype=torch.int64) * (rank + 1)
out = torch.empty_like(t)
ok &= comm.allreduce(t, op="max", out=out) is out and out.tolist() == [i * size for i in range(7)]
g = torch.empty(3 * size, dtype=torch.int32)
comm.allgather(torch.full((3,), rank, dtype=torch.int32), g)
ok &= g.tolist() == sum([[r] * 3 for r in range(size)], [])
rs_in = np.ones(2 * size, dtype=np.float32) * (rank + 1)
rs_out = np.empty(2, dtype=np.float32)
comm.reduce_scatter(rs_in, rs_out)
ok &= rs_out.tolist() == [size * (size + 1) / 2] * 2
b = torch.full((5,), float(rank), dtype=torch.bfloat16)
comm.broadcast(b, root=size - 1)
ok &= b.tolist() == [float(size - 1)] * 5
comm.barrier()
report(ok, "allreduce, allgather, reduce_scatter, broadcast, barrier on numpy and torch "
           "(float64, int64, int32, float32, bfloat16), in place and not")

# Nonblocking: 20 outstanding calls, waited in reverse; futures; tested from another thread.
bufs = [torch.full((1000,), float(i + rank)) for i in range(20)]
works = [comm.allreduce(buf, async_op=True) for buf in bufs]
ok = all(w.wait() is bufs[i] for i, w in reversed(list(enumerate(works))))
ok &= all(float(buf[0]) == i * size + size * (size - 1) / 2 for i, buf in enumerate(bufs))
futs = [comm.allreduce(torch.ones(100) * rank, async_op=True).get_future() for _ in range(5)]
ok &= all(float(f.wait()[0]) == size * (size - 1) / 2 for f in futs)
w = comm.allreduce(torch.ones(10), async_op=True)


def poll(work) -> None:
    while not work.is_completed():
        pass


th = threading.Thread(target=poll, args=(w,))
th.start()
th.join()
ok &= w.is_completed() and float(w.wait()[0]) == size
report(ok, "nonblocking: 20 calls waited in reverse, futures, is_completed from another thread")

# Errors: bad arguments before anything is sent, one class per code, the message kept.
ok = raises(cclz.InvalidArgument, comm.allreduce, np.zeros(10)[::2])  # not contiguous
ok &= raises(cclz.InvalidArgument, comm.allreduce, [1.0, 2.0])
ok &= raises(cclz.InvalidArgument, comm.allreduce, np.zeros(3, dtype=np.complex64))
ok &= raises(cclz.InvalidArgument, comm.allreduce, np.zeros(3), op="mean")
ok &= raises(cclz.InvalidArgument, comm.broadcast, np.zeros(3), root=size)
ok &= raises(cclz.InvalidArgument, comm.allgather, np.zeros(3), np.zeros(3 * size + 1))
try:
    comm.broadcast(np.zeros(3), root=-1)
    ok = False
except cclz.InvalidArgument as e:
    ok &= e.code == -1 and "root -1" in str(e)
report(ok, "bad arguments raise InvalidArgument with the C message, the communicator usable")

# ---- compressors --------------------------------------------------------------------------
n = 4096
comp = cclz.Compressor(comm, "int:bits=8", n, torch.float32)
ref = cclz.Compressor(comm, "int:bits=8", n, "float32")
gen = torch.Generator().manual_seed(rank)
grads = [torch.randn(n, generator=gen) for _ in range(4)]
outs = [g.clone() for g in grads]
for o in outs[:2]:
    comp.allreduce(o, op="avg")
saved = comp.state_dict()
exact = [g.clone() for g in grads]
for e in exact:
    comm.allreduce(e, op="avg")
ok = all(float((o - e).abs().max()) < 2.0 / 255 * 4 for o, e in zip(outs[:2], exact[:2]))
ok &= comp.spec == "int:bits=8,ef=classic,algo=sra" and saved["numel"] == n
# Resume: a fresh compressor with the saved state continues bit for bit.
comp2 = cclz.Compressor(comm, "int:bits=8", n, torch.float32)
comp2.load_state_dict(saved)
a, b2 = grads[2].clone(), grads[2].clone()
comp.allreduce(a, op="avg")
comp2.allreduce(b2, op="avg")
ok &= torch.equal(a, b2)
ok &= raises(cclz.InvalidPayloadError, ref.load_state_dict,
             {"state": saved["state"][:-1] + bytes([saved["state"][-1] ^ 1])})
st = comp.stats()
ok &= st["calls"] == 3 and st["bytes_in"] == 3 * n * 4 and st["skipped"] == 0
ok &= (st["bytes_sent"] > 0) == (size > 1)
report(ok, "Compressor: 8-bit within bound, state_dict and resume bit for bit, a corrupt "
           "state refused, counters")

# A NaN on one rank: NonFiniteGradient on every rank, blocking and not; the next step works.
bad = torch.randn(n)
bad[17] = float("nan") if rank == size - 1 else bad[17]
ok = raises(cclz.NonFiniteGradient, comp.allreduce, bad.clone())
w = comp.allreduce(bad.clone(), async_op=True)
ok &= raises(cclz.NonFiniteGradient, w.wait) and isinstance(w.exception(), cclz.NonFiniteGradient)
ok &= comp.stats()["skipped"] == 2
comp.allreduce(torch.randn(n))
report(ok, "a NaN on one rank raises NonFiniteGradient everywhere (blocking and "
           "nonblocking); the compressor goes on")
for c in (comp, comp2, ref):
    c.close()

# ---- reduce-scatter and the FSDP hook ---------------------------------------------------
n = 1000 * size
gen = torch.Generator().manual_seed(10 + rank)
g = torch.randn(n, generator=gen)
a, b = cclz.Compressor(comm, "int:bits=8", n), cclz.Compressor(comm, "int:bits=8", n)
out, out2, want = torch.empty(1000), torch.empty(1000), torch.empty(1000)
comm.reduce_scatter(g, want, op="avg")
a.reduce_scatter(g, out, op="avg")
b.reduce_scatter(g, out2, op="avg", async_op=True).wait()
unit = float(g.abs().max()) * 2 / 255  # this rank's scale; the others' are alike
ok = torch.equal(out, out2) and float((out - want).abs().max()) < 2 * unit
ok &= a.stats()["bytes_in"] == n * 4
ok &= raises(cclz.InvalidArgument, a.reduce_scatter, g, torch.empty(999), op="avg")
report(ok, "Compressor.reduce_scatter: 8-bit within one quantization of the exact average, "
           "nonblocking = blocking, a wrong output size refused")
a.close()
b.close()


def fsdp_steps(state, steps, nan_step=-1, first=0):
    """Two FSDP-like units, their padded flat gradients handed to the hook from inside each
    backward pass, as FSDP does; returns each step's two output shards."""
    outs = []
    for step in range(first, first + steps):
        w1 = torch.zeros(700 * size, requires_grad=True)
        w2 = torch.zeros(300 * size, requires_grad=True)
        c1 = torch.randn(700 * size, generator=torch.Generator().manual_seed(rank * 100 + step))
        c2 = torch.randn(300 * size, generator=torch.Generator().manual_seed(rank * 100 + 50 + step))
        if step == nan_step and rank == size - 1:
            c2[5] = float("nan")
        shards = [torch.zeros(700), torch.zeros(300)]
        for w, o in zip((w1, w2), shards):
            w.register_hook(lambda grad, o=o: cclz.torch.reduce_scatter_hook(state, grad.clone(), o))
        ((w1 * c1).sum() + (w2 * c2).sum()).backward()
        outs.append(shards)
    return outs


exact_state = cclz.torch.ShardedCompressionState("none", comm=comm, min_bytes=0)
exact = fsdp_steps(exact_state, 3)
q_state = cclz.torch.ShardedCompressionState("int:bits=8", comm=comm, min_bytes=0)
quant = fsdp_steps(q_state, 2)
saved = q_state.state_dict()
quant += fsdp_steps(q_state, 1, first=2)
ok = len(q_state._compressors) == 2 and [c.numel for c in q_state._compressors] == [300 * size, 700 * size]
ok &= all(float((q - e).abs().max()) < 0.15 for qs, es in zip(quant, exact) for q, e in zip(qs, es))
for step in range(3):  # "none" is the exact reduce-scatter, average
    c = torch.randn(700 * size, generator=torch.Generator().manual_seed(rank * 100 + step))
    ref = torch.empty(700)
    comm.reduce_scatter(c, ref, op="avg")
    ok &= torch.equal(exact[step][0], ref)
resumed = cclz.torch.ShardedCompressionState("int:bits=8", comm=comm, min_bytes=0)
resumed.load_state_dict(saved)
again = fsdp_steps(resumed, 1, first=2)  # the third step again, from the saved state: the same bits
ok &= all(torch.equal(x, y) for x, y in zip(again[0], quant[2]))
nan_out = fsdp_steps(q_state, 2, nan_step=3, first=3)
ok &= bool(torch.isnan(nan_out[0][1]).all()) and bool(torch.isfinite(nan_out[1][1]).all())
report(ok, "FSDP hook (called from backward passes as FSDP does): a compressor per unit kept "
           "across passes, none = the exact average, 8-bit close to it, state_dict resumes bit "
           "for bit, a NaN on one rank comes back NaN everywhere")
for st_ in (exact_state, q_state, resumed):
    st_.close()

# ---- DGC's optimizer pairing ---------------------------------------------------------------
dgc_state = cclz.torch.CompressionState("dgc:ratio=0.01,momentum=0.8", comm=comm)
p_ = [torch.nn.Parameter(torch.zeros(3))]
ok = cclz.torch.sgd(p_, dgc_state, 0.1, momentum=0.8).param_groups[0]["momentum"] == 0.0
ok &= raises(ValueError, cclz.torch.sgd, p_, dgc_state, 0.1, momentum=0.9)
ok &= cclz.torch.sgd(p_, None, 0.1).param_groups[0]["momentum"] == 0.9
report(ok, "cclz.torch.sgd: no optimizer momentum for DGC (its compressors correct it), a "
           "momentum that differs from the spec's refused, SGD as asked otherwise")
dgc_state.close()

# ---- Pufferfish factorization ------------------------------------------------------------
import cclz.torch.lowrank as lowrank  # noqa: E402

torch.manual_seed(3)
lin, conv = torch.nn.Linear(40, 24), torch.nn.Conv2d(6, 12, 3, stride=2, padding=1)
xl, xc = torch.randn(5, 40), torch.randn(2, 6, 9, 9)
ok = torch.allclose(lowrank._factorized(lin, 24)(xl), lin(xl), atol=1e-5)
ok &= torch.allclose(lowrank._factorized(conv, 12)(xc), conv(xc), atol=1e-5)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                          torch.nn.Conv2d(8, 32, 3, padding=1), torch.nn.ReLU(),
                          torch.nn.Flatten(), torch.nn.Linear(32 * 64, 128), torch.nn.ReLU(),
                          torch.nn.Linear(128, 10))
before = lowrank.parameter_count(net)
first_w = net[0].weight.clone()
xin = torch.randn(3, 1, 8, 8)
lowrank.factorize(net, rank_ratio=0.25)
ok &= isinstance(net[2], lowrank.LowRankConv2d) and net[2].rank == 8  # 0.25 * min(32, 72)
ok &= isinstance(net[5], lowrank.LowRankLinear) and net[5].rank == 32
ok &= torch.equal(net[0].weight, first_w) and isinstance(net[7], torch.nn.Linear)
ok &= lowrank.parameter_count(net) * 2 < before and net(xin).shape == (3, 10)
ok &= raises(ValueError, lowrank.factorize, net, rank_ratio=0)
report(ok, "Pufferfish factorize: full-rank factors reproduce Linear and Conv2d, the first "
           "and last layers kept, the rest at rank 1/4 with under half the parameters")

# ---- DDP hook -----------------------------------------------------------------------------
# Gloo's file store: a fresh directory of rank 0's, its name sent to every rank, removed at
# the end. (A name from the launcher's port met files that earlier jobs left behind, and a
# stale store hangs the rendezvous.)
store_dir = np.zeros(256, dtype=np.uint8)
if rank == 0:
    name = tempfile.mkdtemp(prefix="cclz_pytest_").encode()
    store_dir[:len(name)] = np.frombuffer(name, dtype=np.uint8)
comm.broadcast(store_dir, root=0)
store_dir_name = store_dir.tobytes().rstrip(b"\0").decode()
dist.init_process_group("gloo", init_method=f"file://{store_dir_name}/store",
                        rank=rank, world_size=size)


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 4))


data_gen = torch.Generator().manual_seed(100 + rank)
batches = [(torch.randn(64, 32, generator=data_gen), torch.randint(0, 4, (64,), generator=data_gen))
           for _ in range(8)]


def train(spec, steps, nan_step=-1, ddp=None, state=None, opt=None, first=0):
    model = make_model() if ddp is None else None
    if ddp is None:
        ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.1)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
        if spec is not None:
            state = cclz.torch.CompressionState(spec, comm=comm, min_bytes=1024,
                                                model=ddp.module)
            ddp.register_comm_hook(state, cclz.torch.allreduce_hook)
    finite = []
    for s in range(first, first + steps):
        xb, yb = batches[s % len(batches)]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ddp(xb), yb)
        if s == nan_step and rank == 0:
            loss = loss * float("nan")
        loss.backward()
        ok_step = all(bool(torch.isfinite(p.grad).all()) for p in ddp.parameters())
        finite.append(ok_step)
        if ok_step:
            opt.step()
    return ddp, state, opt, finite


def params(ddp) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in ddp.parameters()])


base, _, _, _ = train(None, 4)
exact, st_exact, _, _ = train("none", 4)
ok = torch.allclose(params(base), params(exact), rtol=1e-5, atol=1e-6)
q8, st8, _, _ = train("int:bits=8", 4)
ok8 = float((params(q8) - params(base)).abs().max()) < 0.05
report(ok, "DDP hook, spec none: the parameters of plain DDP over Gloo after 4 steps")
report(ok8 and len(st8._compressors) >= 2,
       f"DDP hook, int:bits=8: within 0.05 of plain DDP after 4 steps, "
       f"{len(st8._compressors)} gradients compressed, each by its own compressor")

# One compressor per bucket told its tensors = a compressor per tensor, bit for bit (top-k
# selects per tensor either way; every gradient compressed: min_bytes 0), over 4 steps: DDP
# rebuilds its buckets after the first, and every tensor's state moves into its new bucket.
def train_per(per, steps=4, spec="topk:ratio=0.05", ddp=None, st=None, opt=None, first=0):
    if ddp is None:
        ddp = torch.nn.parallel.DistributedDataParallel(make_model(), bucket_cap_mb=0.1)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
        st = cclz.torch.CompressionState(spec, comm=comm, min_bytes=0, model=ddp.module,
                                         per=per)
        ddp.register_comm_hook(st, cclz.torch.allreduce_hook)
    for s in range(first, first + steps):
        xb, yb = batches[s % len(batches)]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ddp(xb), yb).backward()
        opt.step()
    return params(ddp), st, ddp, opt


p_tensor, _, _, _ = train_per("tensor")
p_layout, st_layout, _, _ = train_per("layout")
p_bucket, _, _, _ = train_per("bucket")
report(torch.equal(p_tensor, p_layout) and not torch.equal(p_tensor, p_bucket) and
       all(k.startswith("bucket") for k in st_layout._compressors),
       "DDP hook, per='layout': one call per bucket = a compressor per tensor, bit for bit, "
       "over 4 steps through DDP's bucket rebuild (top-k); per='bucket' (one vector) differs")

# PowerSGD on the buckets' own matrices (per='layout', no rows=) = a PowerSGD compressor per
# weight matrix with its rows and the biases exact.
def lr_spec(p: torch.Tensor) -> str:
    return f"powersgd:rank=2,rows={p.shape[0]}" if p.dim() >= 2 else "none"


p_lr_tensor, _, _, _ = train_per("tensor", spec=lr_spec)
p_lr_layout, st_lr, _, _ = train_per("layout", spec="powersgd:rank=2")
lr_diff = float((p_lr_tensor - p_lr_layout).abs().max())
report(lr_diff <= 1e-5 and (size > 2 or lr_diff == 0.0),
       f"DDP hook, per='layout' with powersgd:rank=2: each weight approximated with its own "
       f"factors, biases exact, = a PowerSGD compressor per weight, over 4 steps through the "
       f"bucket rebuild (largest difference {lr_diff:g})")

# A checkpoint of per='layout' after 2 steps (after the rebuild), resumed in a fresh model,
# DDP and hook, whose buckets start as the first run's did: = 4 steps straight.
def resume_from(ddp, opt, st):
    """A checkpoint of (model, optimizer, hook state), the first two loaded into a fresh
    model, DDP and optimizer: (ddp, optimizer, the hook state's dict)."""
    ck = {"model": {k: v.clone() for k, v in ddp.module.state_dict().items()},
          "opt": opt.state_dict(), "cclz": st.state_dict()}
    m = make_model()
    m.load_state_dict(ck["model"])
    d = torch.nn.parallel.DistributedDataParallel(m, bucket_cap_mb=0.1)
    o = torch.optim.SGD(d.parameters(), lr=0.05, momentum=0.9)
    o.load_state_dict(ck["opt"])
    return d, o, ck["cclz"]


half_p, st_h, ddp_h, opt_h = train_per("layout", steps=2)
ddp2, opt2, ck_cclz = resume_from(ddp_h, opt_h, st_h)
st2 = cclz.torch.CompressionState("topk:ratio=0.05", comm=comm, min_bytes=0,
                                  model=ddp2.module, per="layout")
st2.load_state_dict(ck_cclz)
ddp2.register_comm_hook(st2, cclz.torch.allreduce_hook)
resumed_p, _, _, _ = train_per("layout", steps=2, ddp=ddp2, st=st2, opt=opt2, first=2)
# A checkpoint with one corrupt compressor changes nothing.
bad_ck = {**ck_cclz, "compressors": {k: dict(v) for k, v in ck_cclz["compressors"].items()}}
last = sorted(bad_ck["compressors"])[-1]
raw = bytearray(bad_ck["compressors"][last]["state"])
raw[-1] ^= 0xFF
bad_ck["compressors"][last]["state"] = bytes(raw)
st_bad = cclz.torch.CompressionState("topk:ratio=0.05", comm=comm, per="layout")
try:
    st_bad.load_state_dict(bad_ck)
    why = ""
except cclz.InvalidPayloadError as e:
    why = str(e)
report("checkpoint" in why and not st_bad._homes and not st_bad._held,
       f"DDP hook, per='layout': a checkpoint with a corrupt compressor raises, naming the "
       f"checkpoint ({why[:60]!r}), and changes nothing")
report(torch.equal(resumed_p, p_layout) and
       raises(ValueError, cclz.torch.CompressionState("topk:ratio=0.05", comm=comm,
                                                      per="tensor").load_state_dict, ck_cclz),
       "DDP hook, per='layout': checkpoint after 2 steps, resumed with the first run's buckets "
       "(every parameter's state back), = 4 steps straight, bit for bit; a per='tensor' "
       "state refuses it")
report(raises(ValueError, cclz.torch.CompressionState, "topk", comm=comm, per="layer"),
       "DDP hook: an unknown per= refused")

_, _, _, finite = train("int:bits=8", 3, nan_step=1)
report(finite == [True, False, True],
       "DDP hook: a NaN on one rank comes back as NaN on every rank (the step skipped "
       "everywhere), and the next step is finite")

# A spec per parameter (PowerSGD needs each weight's rows): weights low-rank, biases exact.
def powersgd(p: torch.Tensor) -> str:
    return f"powersgd:rank=2,rows={p.shape[0]}" if p.dim() >= 2 else "none"


lr_ddp, lr_state, _, lr_finite = train(powersgd, 3)
specs = sorted(c.spec.split(",")[0] for c in lr_state._compressors.values())
report(all(lr_finite) and specs.count("powersgd:rank=2") == 3 and lr_state.spec == "powersgd",
       f"DDP hook with a spec per parameter: PowerSGD on the 3 weight matrices, "
       f"biases exact ({specs})")

# Checkpoint after 3 steps, resume in a fresh model, DDP and hook: equal to 6 steps straight.
straight, _, _, _ = train("int:bits=8", 6)
half, st_half, opt_half, _ = train("int:bits=8", 3)
resumed, ropt, r_cclz = resume_from(half, opt_half, st_half)
rstate = cclz.torch.CompressionState("int:bits=8", comm=comm, min_bytes=1024,
                                     model=resumed.module)
rstate.load_state_dict(r_cclz)
resumed.register_comm_hook(rstate, cclz.torch.allreduce_hook)
train(None, 3, ddp=resumed, state=rstate, opt=ropt, first=3)
report(torch.equal(params(straight), params(resumed)),
       "DDP hook: checkpoint after 3 steps and resume (model, optimizer, hook state) equals "
       "6 steps straight, bit for bit")

# A short training: 300 steps of 8-bit on a separable 4-class problem.
torch.manual_seed(1)
centers = torch.randn(4, 32) * 2
tgen = torch.Generator().manual_seed(7 + rank)
model = make_model()
ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.1)
opt = torch.optim.SGD(ddp.parameters(), lr=0.02, momentum=0.9)
state = cclz.torch.CompressionState("int:bits=8", comm=comm, min_bytes=1024, model=model)
ddp.register_comm_hook(state, cclz.torch.allreduce_hook)
for step in range(300):
    yb = torch.randint(0, 4, (32,), generator=tgen)
    xb = centers[yb] + torch.randn(32, 32, generator=tgen)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(ddp(xb), yb).backward()
    opt.step()
with torch.no_grad():
    yt = torch.randint(0, 4, (2000,), generator=torch.Generator().manual_seed(99))
    xt = centers[yt] + torch.randn(2000, 32, generator=torch.Generator().manual_seed(98))
    acc = float((model(xt).argmax(1) == yt).float().mean())
report(acc >= 0.95, f"DDP hook, int:bits=8: 300 steps reach {acc:.3f} test accuracy (>= 0.95)")

# ---- split ----------------------------------------------------------------------------------
sub = comm.split(rank % 2, key=-rank)
none = comm.split(None if rank == 0 else 1)
members = [r for r in range(size) if r % 2 == rank % 2]
got = torch.empty(sub.size, dtype=torch.int32)
sub.allgather(torch.tensor([rank], dtype=torch.int32), got)
ok = sub.size == len(members) and got.tolist() == sorted(members, reverse=True)
ok &= (none is None) if rank == 0 else (none.size == size - 1 and none.rank == rank - 1)
ok &= raises(cclz.InvalidArgument, comm.split, -3)
sub.destroy()
if none is not None:
    none.destroy()
report(ok, "split: by parity with keys reversed, a rank in none (None), a bad color refused")

# ---- layouts ---------------------------------------------------------------------------------
shapes = [(64, 1, 5, 5), (64,), (10, 3136), (10,)]
numel = sum(int(torch.tensor(s).prod()) for s in shapes)
flat = torch.cat([torch.full((int(torch.tensor(s).prod()),), 100.0 if i == 2 else 1.0)
                  * (rank + 1) for i, s in enumerate(shapes)])
lc = cclz.Compressor(comm, "topk:ratio=0.01,ef=none", numel, torch.float32)
lc.set_layout(shapes)
got = flat.clone()
lc.allreduce(got)
kept, at = [], 0
for s in shapes:
    n = int(torch.tensor(s).prod())
    kept.append(int((got[at:at + n] != 0).sum()))
    at += n
ok = kept == [max(1, -(-int(torch.tensor(s).prod()) // 100)) for s in shapes]
ok &= raises(cclz.InvalidArgument, lc.set_layout, [(3, 3)])
q8 = cclz.Compressor(comm, "int:bits=8,ef=none", numel)
q8.set_layout(shapes)
got8 = flat.clone()
q8.allreduce(got8)
ok &= torch.allclose(got8, flat / (rank + 1) * (size * (size + 1) / 2), rtol=1e-2)
q8.close()
lc.set_layout([])
lc.close()
report(ok, f"Compressor.set_layout: topk 1% keeps k in every tensor ({kept}); int8 takes one; "
           "bad layouts refused")

# ---- hosts ----------------------------------------------------------------------------------
info = comm.host_info()
report(info == {"host": 0, "nhosts": 1, "local_rank": rank, "local_size": size, "hier": 0},
       f"host_info: one host, local rank = rank, no hierarchy ({info})")

# ---- robust aggregation and MoNNA ----------------------------------------------------------
import cclz.torch.robust  # noqa: E402

fr = (size - 1) // 2
every = np.stack([np.sin(np.arange(301, dtype=np.float32) * (r + 1)) * (r + 1)
                  for r in range(size)]).astype(np.float32)
med = comm.allreduce_robust(every[rank].copy(), rule="median", f=fr)
ok = np.allclose(med, np.median(every, axis=0), rtol=1e-6, atol=1e-6)
mean = comm.allreduce_robust(torch.from_numpy(every[rank].copy()), rule="nna", f=0)
ok &= np.allclose(mean.numpy(), every.mean(axis=0), rtol=1e-5, atol=1e-6)
w = comm.allreduce_robust(every[rank].copy(), rule="trimmed_mean", f=fr, async_op=True)
tm = comm.allreduce_robust(every[rank].copy(), rule="trimmed_mean", f=fr)
ok &= np.array_equal(w.wait(), tm)
ok &= raises(cclz.InvalidArgument, comm.allreduce_robust, every[rank].copy(), rule="best")
ok &= raises(cclz.InvalidArgument, comm.allreduce_robust, every[rank].copy(), f=size)
ok &= raises(cclz.InvalidArgument, comm.allreduce_robust, every[rank].copy(), pre=("nope",))
report(ok, "allreduce_robust: median and trimmed mean equal numpy's over every rank's "
           "vector, NNA with f = 0 the mean, nonblocking = blocking, bad rules refused")

if size >= 3:
    faults = np.zeros(size, dtype=np.uint8)
    v = every[rank].copy()
    if rank == size - 1:
        v[3] = np.nan
        ok = raises(cclz.NonFiniteGradient, comm.allreduce_robust, v, rule="median", f=1,
                    faults=faults)
    else:
        comm.allreduce_robust(v, rule="median", f=1, faults=faults)
        ok = (cclz.FAULTS[faults[-1]] == "nonfinite" and not faults[:-1].any() and
              np.allclose(v, np.median(every[:-1], axis=0)))
    w = comm.allreduce_robust(v, rule="median", f=1, async_op=True)
    ok &= raises(cclz.NonFiniteGradient, w.wait) if rank == size - 1 else w.wait() is v
    report(ok, "allreduce_robust: a rank's NaN vector is dropped and reported (faults), "
               "that rank gets NonFiniteGradient, blocking and nonblocking")


def monna_run(steps: int, f: int, byzantine: bool = False, rule: str = "nna"):
    """A small classifier trained by MoNNA; the last rank sends noise if byzantine."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    opt = cclz.torch.robust.MoNNA(model.parameters(), lr=0.2, momentum=0.9, f=f, comm=comm,
                                  rule=rule)
    gen = torch.Generator().manual_seed(11 + rank)
    torch.manual_seed(5)
    centers = torch.randn(4, 16) * 2
    for _ in range(steps):
        yb = torch.randint(0, 4, (32,), generator=gen)
        xb = centers[yb] + torch.randn(32, 16, generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        if byzantine and rank == size - 1:
            opt.mix(100.0 * torch.randn(opt.flat_parameters().numel(), generator=gen))
            continue
        opt.step()
    yt = torch.randint(0, 4, (1000,), generator=torch.Generator().manual_seed(2))
    xt = centers[yt] + torch.randn(1000, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
    return model, opt, acc


# f = 0: MoNNA is decentralized SGD with dampened momentum; every rank ends equal.
m0, o0, acc0 = monna_run(30, 0)
flat = o0.flat_parameters().clone()
allp = torch.empty(size * flat.numel())
comm.allgather(flat, allp)
same = all(torch.equal(allp[r * flat.numel():(r + 1) * flat.numel()], flat) for r in range(size))
base = o0.flat_parameters().data_ptr()
views = all(base <= p.data_ptr() < base + 4 * flat.numel() for p in m0.parameters())
report(same and views and acc0 > 0.9,
       f"MoNNA f=0: parameters are views of one flat buffer, equal on every rank after 30 "
       f"steps, accuracy {acc0:.3f} (> 0.9)")
if size >= 3:
    _, ob, accb = monna_run(60, 1, byzantine=True)
    _, _, accp = monna_run(60, 0, byzantine=True, rule="mean")
    honest = rank < size - 1
    report(not honest or (accb > 0.9 and accp < 0.6),
           f"MoNNA f=1 with the last rank sending Gaussian noise (sd 100) every step: honest "
           f"accuracy {accb:.3f} (> 0.9); the plain average under it {accp:.3f} (< 0.6)")


dist.destroy_process_group()
comm.barrier()
if rank == 0:
    shutil.rmtree(store_dir_name, ignore_errors=True)
comm.destroy()
sys.exit(1 if failed else 0)
