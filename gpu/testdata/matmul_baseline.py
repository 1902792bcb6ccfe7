"""The GEMM baseline for gpu's distance-kernel throughput (docs/gpu.md).

Times torch.matmul in float32 (TF32 off: the same arithmetic as the
kernels) on the shapes TestCUDAThroughput uses, with CUDA events, median of
20 after 3 warm-ups, and prints GFLOP/s = 2*n*m*dim / time. Run it on the
GPU machine: python3 gpu/testdata/matmul_baseline.py
"""
import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
SHAPES = [(4096, 65536, 128), (16384, 16384, 128), (8192, 131072, 96), (65536, 1024, 128)]


def time_ms(f, reps=20):
    for _ in range(3):
        f()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        f()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


print(torch.cuda.get_device_name(), "torch", torch.__version__)
for n, m, dim in SHAPES:
    x = torch.randn(n, dim, device="cuda")
    y = torch.randn(m, dim, device="cuda")
    out = torch.empty(n, m, device="cuda")
    ms = time_ms(lambda: torch.matmul(x, y.T, out=out))
    # The full distance in torch, for reference: ||x||^2 - 2 x.y + ||y||^2.
    xn, yn = (x * x).sum(1, keepdim=True), (y * y).sum(1)
    msd = time_ms(lambda: torch.addmm(xn + yn, x, y.T, alpha=-2.0))
    flop = 2.0 * n * m * dim
    print(f"torch.matmul {n:6d}x{m:6d}x{dim:4d} {ms:8.3f} ms {flop / ms / 1e6:8.0f} GFLOP/s"
          f"   torch L2 distances (addmm) {msd:8.3f} ms {flop / msd / 1e6:8.0f} GFLOP/s")
    del x, y, out
