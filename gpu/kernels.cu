// The CUDA kernels of package gpu. `go generate ./gpu` (see ptx.go) runs
// nvcc on this file to produce kernels.ptx, which is embedded in the Go
// binary and JIT-compiled by the driver for whatever GPU it finds.
//
// Conventions shared with the Go side (cuda_*.go):
//   - matrices are row-major float32 with a padded row stride `ld` (in
//     floats), a multiple of 8; the padding is zero, so it adds nothing to
//     sums and dot products, and rows are 16-byte aligned for float4 loads;
//   - metric codes: 1 = squared L2, 2 = -dot (inner product),
//     3 = 1 - dot (cosine of normalised rows), 0 = the plain dot product;
//   - ids are int32, -1 for "none"; a missing distance is +Inf;
//   - top-k lists are sorted by (distance, id), ids compared unsigned so
//     that the -1 of an empty slot sorts last.
//
// Every kernel is extern "C" so the Go side finds it by its plain name.

#define NT 256   // threads per block of the block-wide kernels
#define FULL 0xffffffffu

__device__ __forceinline__ float f_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double d_inf() { return __longlong_as_double(0x7ff0000000000000LL); }

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(FULL, v, o);
    return v;
}

// finish turns a dot product into the distance of metric m. The GEMM form
// of squared L2 can round below zero for (near-)identical rows: clamp.
__device__ __forceinline__ float finish(int m, float dot, float xn, float yn)
{
    switch (m) {
    case 1:
        return fmaxf(xn + yn - 2.0f * dot, 0.0f);
    case 2:
        return -dot;
    case 3:
        return 1.0f - dot;
    }
    return dot;
}

__device__ __forceinline__ bool key_less(float da, int ia, float db, int ib)
{
    return da < db || (da == db && (unsigned)ia < (unsigned)ib);
}

__device__ __forceinline__ int pow2ceil(int x)
{
    int p = 2;
    while (p < x)
        p <<= 1;
    return p;
}

// sort_pairs sorts (d, id)[0, n) ascending by key_less with a bitonic
// network; n is a power of two. Every thread of the block must call it; it
// ends with a barrier.
__device__ void sort_pairs(float* d, int* id, int n)
{
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                int l = i ^ j;
                if (l > i) {
                    float di = d[i], dl = d[l];
                    int ii = id[i], il = id[l];
                    bool swap = (i & k) == 0 ? key_less(dl, il, di, ii) : key_less(di, ii, dl, il);
                    if (swap) {
                        d[i] = dl;
                        d[l] = di;
                        id[i] = il;
                        id[l] = ii;
                    }
                }
            }
            __syncthreads();
        }
    }
}

// compact keeps the `keep` smallest of the *cnt entries of (d, id), sorted:
// it sorts them, truncates *cnt to keep and sets *tau to the keep-th
// smallest distance (+Inf while fewer are held), the bound a new entry must
// beat. Entries at and past the new *cnt are undefined. Every thread of the
// block must call it, after a barrier that follows the last append.
__device__ void compact(float* d, int* id, int* cnt, float* tau, int keep)
{
    int c = *cnt;
    int n = pow2ceil(c);
    for (int i = c + threadIdx.x; i < n; i += blockDim.x) {
        d[i] = f_inf();
        id[i] = -1;
    }
    __syncthreads();
    sort_pairs(d, id, n);
    if (threadIdx.x == 0) {
        int k = min(c, keep);
        *cnt = k;
        *tau = k >= keep ? d[keep - 1] : f_inf();
    }
    __syncthreads();
}

extern "C" {

// row_norms sets out[i] to the squared norm of row i, one warp per row.
__global__ void row_norms(const float* __restrict__ x, int n, int ld, float* __restrict__ out)
{
    int w = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= n)
        return;
    const float* r = x + (long long)w * ld;
    float s = 0;
    for (int d = lane * 4; d < ld; d += 128) {
        float4 v = *(const float4*)(r + d);
        s = fmaf(v.x, v.x, s);
        s = fmaf(v.y, v.y, s);
        s = fmaf(v.z, v.z, s);
        s = fmaf(v.w, v.w, s);
    }
    s = warp_sum(s);
    if (lane == 0)
        out[w] = s;
}

// fill_best empties n top-k slots: distance +Inf, id -1.
__global__ void fill_best(float* __restrict__ d, int* __restrict__ id, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        d[i] = f_inf();
        id[i] = -1;
    }
}

// dist_gemm computes a 128x128 tile of distances per block between rows of
// X (n of them) and rows of Y (m of them), both with stride ld:
// out[i*ldo + j] = finish(metric, X_i . Y_j, xn[i], yn[j]) (xn, yn are only
// read for metric 1). It is a classic register-blocked SGEMM (C = X Y^T):
// 256 threads, each owning an 8x8 sub-tile split in two 4-wide halves 64
// apart (conflict-free float4 shared loads), k-steps of 8 double-buffered
// through shared memory with the next step's global loads in flight during
// the current step's 512 FMAs. ldo must be a multiple of 4.
#define BM 128
#define BK 8
#define SPAD 4
__global__ void __launch_bounds__(256, 2)
dist_gemm(const float* __restrict__ X, int n, const float* __restrict__ Y, int m, int ld,
          const float* __restrict__ xn, const float* __restrict__ yn, int metric,
          float* __restrict__ out, long long ldo)
{
    __shared__ __align__(16) float As[2][BK][BM + SPAD];
    __shared__ __align__(16) float Bs[2][BK][BM + SPAD];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BM;
    // Each thread stages one float4 of X and one of Y per k-step. Rows past
    // the end re-read the last row; their results are never stored.
    const int lr = tid >> 1, lk = (tid & 1) * 4;
    const float* xa = X + (long long)min(row0 + lr, n - 1) * ld + lk;
    const float* yb = Y + (long long)min(col0 + lr, m - 1) * ld + lk;
    float4 ra = *(const float4*)xa, rb = *(const float4*)yb;
    As[0][lk + 0][lr] = ra.x;
    As[0][lk + 1][lr] = ra.y;
    As[0][lk + 2][lr] = ra.z;
    As[0][lk + 3][lr] = ra.w;
    Bs[0][lk + 0][lr] = rb.x;
    Bs[0][lk + 1][lr] = rb.y;
    Bs[0][lk + 2][lr] = rb.z;
    Bs[0][lk + 3][lr] = rb.w;
    __syncthreads();

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[i][j] = 0;

    int buf = 0;
    for (int k0 = 0; k0 < ld; k0 += BK) {
        const bool more = k0 + BK < ld;
        if (more) {
            ra = *(const float4*)(xa + k0 + BK);
            rb = *(const float4*)(yb + k0 + BK);
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float4 a0 = *(const float4*)&As[buf][kk][ty * 4];
            float4 a1 = *(const float4*)&As[buf][kk][64 + ty * 4];
            float4 b0 = *(const float4*)&Bs[buf][kk][tx * 4];
            float4 b1 = *(const float4*)&Bs[buf][kk][64 + tx * 4];
            float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) {
            // The other buffer was last read before the previous barrier.
            buf ^= 1;
            As[buf][lk + 0][lr] = ra.x;
            As[buf][lk + 1][lr] = ra.y;
            As[buf][lk + 2][lr] = ra.z;
            As[buf][lk + 3][lr] = ra.w;
            Bs[buf][lk + 0][lr] = rb.x;
            Bs[buf][lk + 1][lr] = rb.y;
            Bs[buf][lk + 2][lr] = rb.z;
            Bs[buf][lk + 3][lr] = rb.w;
            __syncthreads();
        }
    }

    float yv[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int c = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
        yv[j] = (metric == 1 && c < m) ? yn[c] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        int r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (r >= n)
            continue;
        float xv = metric == 1 ? xn[r] : 0.0f;
        float* o = out + (long long)r * ldo;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int c = col0 + h * 64 + tx * 4;
            float4 v;
            v.x = finish(metric, acc[i][h * 4 + 0], xv, yv[h * 4 + 0]);
            v.y = finish(metric, acc[i][h * 4 + 1], xv, yv[h * 4 + 1]);
            v.z = finish(metric, acc[i][h * 4 + 2], xv, yv[h * 4 + 2]);
            v.w = finish(metric, acc[i][h * 4 + 3], xv, yv[h * 4 + 3]);
            if (c + 3 < m) {
                *(float4*)(o + c) = v;
            } else {
                if (c < m)
                    o[c] = v.x;
                if (c + 1 < m)
                    o[c + 1] = v.y;
                if (c + 2 < m)
                    o[c + 2] = v.z;
            }
        }
    }
}

// topk_merge folds one tile of candidates into every row's running top-k
// list. Block r reads row r of the tile, T[r*ldt + c] for c < mb: distances
// when kind is 0, else dot products that finish() turns into distances of
// metric `kind` (with xn[r] and yn[c]). Candidate c has id colBase + c.
// best (k per row, sorted, +Inf/-1 where empty) is read and rewritten.
//
// Selection: the list lives in shared memory with room for cap >= k+1024
// entries (a power of two). A candidate is appended only if it beats tau,
// the current k-th best; when fewer than 1024 free slots remain the block
// sorts and truncates to k (compact). After the first few chunks tau is
// tight and nearly every candidate is rejected by one comparison.
__global__ void __launch_bounds__(NT)
topk_merge(const float* __restrict__ T, long long ldt, int mb, int colBase, int kind,
           const float* __restrict__ xn, const float* __restrict__ yn, int k, int cap,
           float* __restrict__ bestD, int* __restrict__ bestI)
{
    extern __shared__ __align__(16) unsigned char smem[];
    float* sd = (float*)smem;
    int* si = (int*)(sd + cap);
    __shared__ int cnt;
    __shared__ float tau;
    const int r = blockIdx.x;
    const float* row = T + (long long)r * ldt;
    float* bd = bestD + (long long)r * k;
    int* bi = bestI + (long long)r * k;
    for (int i = threadIdx.x; i < k; i += NT) {
        sd[i] = bd[i];
        si[i] = bi[i];
    }
    if (threadIdx.x == 0) {
        cnt = k;
        tau = bd[k - 1];
    }
    __syncthreads();
    const float xv = kind == 1 ? xn[r] : 0.0f;
    const int chunk = 4 * NT;
    for (int base = 0; base < mb; base += chunk) {
        const float t = tau;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int c = base + u * NT + threadIdx.x;
            if (c < mb) {
                float v = row[c];
                if (kind != 0)
                    v = finish(kind, v, xv, kind == 1 ? yn[c] : 0.0f);
                if (v < t) {
                    int p = atomicAdd(&cnt, 1);
                    sd[p] = v;
                    si[p] = colBase + c;
                }
            }
        }
        __syncthreads();
        int c = cnt;
        __syncthreads(); // everyone has read cnt before anyone appends again
        if (c > cap - chunk)
            compact(sd, si, &cnt, &tau, k);
    }
    compact(sd, si, &cnt, &tau, k);
    const int have = cnt;
    for (int i = threadIdx.x; i < k; i += NT) {
        bd[i] = i < have ? sd[i] : f_inf();
        bi[i] = i < have ? si[i] : -1;
    }
}

// kmeans_assign labels points for many k-means problems at once, one warp
// per point. Position w (< n) is data row idx[w]; it belongs to segment s,
// the last with pseg[s] <= w (pseg has nseg+1 entries), whose centroids are
// rows cseg[s] .. cseg[s+1]-1 of C. The label is the centroid j minimising
// (double)||x - c_j||^2 + pen[j] (pen may be null), the first on ties, as
// package cluster's CPU assignment does; labels[w] is j - cseg[s] and
// dists[w] the unpenalised squared distance.
__global__ void kmeans_assign(const float* __restrict__ X, int ld, const int* __restrict__ idx, int n,
                              const int* __restrict__ pseg, int nseg, const float* __restrict__ C,
                              const int* __restrict__ cseg, const double* __restrict__ pen,
                              int* __restrict__ labels, float* __restrict__ dists)
{
    const int w = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (w >= n)
        return;
    int lo = 0, hi = nseg; // pseg[lo] <= w < pseg[hi]
    while (hi - lo > 1) {
        int mid = (lo + hi) >> 1;
        if (pseg[mid] <= w)
            lo = mid;
        else
            hi = mid;
    }
    const float* x = X + (long long)idx[w] * ld;
    const int c0 = cseg[lo], c1 = cseg[lo + 1];
    int best = c0;
    double bestv = d_inf();
    float bestd = 0;
    for (int j = c0; j < c1; j++) {
        const float* c = C + (long long)j * ld;
        float s = 0;
        for (int d = lane * 4; d < ld; d += 128) {
            float4 a = *(const float4*)(x + d);
            float4 b = *(const float4*)(c + d);
            float e;
            e = a.x - b.x;
            s = fmaf(e, e, s);
            e = a.y - b.y;
            s = fmaf(e, e, s);
            e = a.z - b.z;
            s = fmaf(e, e, s);
            e = a.w - b.w;
            s = fmaf(e, e, s);
        }
        s = warp_sum(s);
        double v = (double)s + (pen ? pen[j] : 0.0);
        if (j == c0)
            bestd = s;
        if (v < bestv) {
            bestv = v;
            best = j;
            bestd = s;
        }
    }
    if (lane == 0) {
        labels[w] = best - c0;
        dists[w] = bestd;
    }
}

// kmeans_sums sums the member rows of every cluster in float64: block
// (c, y) is one warp summing dimensions 32y .. 32y+31 of cluster c, whose
// members are data rows rows[off[c]] .. rows[off[c+1]-1], in the order the
// CPU sums them, so the sums are bit-identical to the CPU's. Loads are
// issued 16 rows at a time before the (sequential) adds, so a cluster of
// many members is not bound by one load's latency per member.
__global__ void kmeans_sums(const float* __restrict__ X, int ld, int dim, const int* __restrict__ rows,
                            const int* __restrict__ off, double* __restrict__ sums)
{
    const int c = blockIdx.x;
    const int d = blockIdx.y * 32 + threadIdx.x;
    if (d >= dim)
        return;
    const int p0 = off[c], p1 = off[c + 1];
    double s = 0;
    int p = p0;
    for (; p + 16 <= p1; p += 16) {
        float v[16];
#pragma unroll
        for (int u = 0; u < 16; u++)
            v[u] = X[(long long)rows[p + u] * ld + d];
#pragma unroll
        for (int u = 0; u < 16; u++)
            s += (double)v[u];
    }
    for (; p < p1; p++)
        s += (double)X[(long long)rows[p] * ld + d];
    sums[(long long)c * dim + d] = s;
}

// kmeans_sums_wide is kmeans_sums for clusters of many members (the top
// levels of the tree: 32 clusters of 31k members at the root of a 1M
// build would give kmeans_sums one warp per SM, bound by load latency).
// Block (c, y) has 8 warps: each round they gather 128 member rows'
// dimensions 32y .. 32y+31 into shared memory while warp 0 adds the
// previous round's, one lane per dimension, in member order — the same
// sequence of float64 adds as kmeans_sums and the CPU, so the sums stay
// bit-identical.
#define SW_ROWS 128
// sw_gather loads rows lane's dimension d of member rows warp*16 ..
// warp*16+15 of the round starting at p (zeros past p1) into tile.
__device__ __forceinline__ void sw_gather(float (*tile)[32], const float* __restrict__ X, int ld, int dim,
                                          const int* __restrict__ rows, int p, int p1, int warp, int lane, int d)
{
#pragma unroll
    for (int u = 0; u < SW_ROWS / 8; u++) {
        const int r = warp * (SW_ROWS / 8) + u;
        float v = 0;
        if (p + r < p1 && d < dim)
            v = X[(long long)rows[p + r] * ld + d];
        tile[r][lane] = v;
    }
}

__global__ void __launch_bounds__(256)
kmeans_sums_wide(const float* __restrict__ X, int ld, int dim, const int* __restrict__ rows,
                 const int* __restrict__ off, double* __restrict__ sums)
{
    __shared__ float tile[2][SW_ROWS][32];
    const int c = blockIdx.x;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int d = blockIdx.y * 32 + lane;
    const int p0 = off[c], p1 = off[c + 1];
    double s = 0;
    int b = 0;
    if (p0 < p1)
        sw_gather(tile[0], X, ld, dim, rows, p0, p1, warp, lane, d);
    __syncthreads();
    for (int p = p0; p < p1; p += SW_ROWS) {
        if (p + SW_ROWS < p1)
            sw_gather(tile[b ^ 1], X, ld, dim, rows, p + SW_ROWS, p1, warp, lane, d);
        if (warp == 0) {
            const int m = min(SW_ROWS, p1 - p);
            for (int r = 0; r < m; r++)
                s += (double)tile[b][r][lane];
        }
        __syncthreads();
        b ^= 1;
    }
    if (warp == 0 && d < dim)
        sums[(long long)c * dim + d] = s;
}

// tree_search runs package cluster's beam search (Tree.Search) for one
// query per block: starting from the root, every child of the frontier
// nodes is scored; leaves compete for the nOut nearest, inner nodes for the
// next frontier of `beam`. The tree is stored flat as in cluster.Tree:
// node i's children are childStart[i] .. +childCount[i]-1, leafID[i] >= 0
// for leaves. Each warp scores 8 children at a time (lanes split the
// dimensions); both candidate lists use topk_merge's append-then-compact
// scheme (lcap >= 2*nOut+64 and ncap >= 2*beam+64, powers of two).
// Output: outLeaf/outDist[q*nOut ...], nearest first, -1/+Inf past the end.
#define PER_WARP 8
#define ROUND (PER_WARP * (NT / 32))
__global__ void __launch_bounds__(NT)
tree_search(const float* __restrict__ Q, int ld, const float* __restrict__ cent,
            const int* __restrict__ childStart, const int* __restrict__ childCount,
            const int* __restrict__ leafID, int metric, int nOut, int beam, int lcap, int ncap,
            int* __restrict__ outLeaf, float* __restrict__ outDist)
{
    extern __shared__ __align__(16) unsigned char smem[];
    float* q = (float*)smem;
    float* ldist = q + ld;
    int* lid = (int*)(ldist + lcap);
    float* ndist = (float*)(lid + lcap);
    int* nid = (int*)(ndist + ncap);
    int* fr = nid + ncap;
    int* pre = fr + beam;
    __shared__ int lcnt, ncnt, nf;
    __shared__ float ltau, ntau;

    const int qi = blockIdx.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int d = threadIdx.x; d < ld; d += NT)
        q[d] = Q[(long long)qi * ld + d];
    if (threadIdx.x == 0) {
        lcnt = 0;
        ncnt = 0;
        ltau = f_inf();
        ntau = f_inf();
        nf = 1;
        fr[0] = 0;
        pre[0] = 0;
        pre[1] = childCount[0];
    }
    __syncthreads();
    for (int level = 0; level < 4096 && nf > 0; level++) {
        const int nfl = nf, total = pre[nfl];
        for (int base = 0; base < total; base += ROUND) {
            int node[PER_WARP];
            float s[PER_WARP];
#pragma unroll
            for (int u = 0; u < PER_WARP; u++) {
                int t = base + warp * PER_WARP + u;
                node[u] = -1;
                s[u] = 0;
                if (t < total) {
                    int lo = 0, hi = nfl; // pre[lo] <= t < pre[hi]
                    while (hi - lo > 1) {
                        int mid = (lo + hi) >> 1;
                        if (pre[mid] <= t)
                            lo = mid;
                        else
                            hi = mid;
                    }
                    node[u] = childStart[fr[lo]] + (t - pre[lo]);
                }
            }
            for (int d = lane * 4; d < ld; d += 128) {
                float4 a = *(const float4*)(q + d);
#pragma unroll
                for (int u = 0; u < PER_WARP; u++) {
                    if (node[u] < 0)
                        continue;
                    float4 b = *(const float4*)(cent + (long long)node[u] * ld + d);
                    if (metric == 1) {
                        float e;
                        e = a.x - b.x;
                        s[u] = fmaf(e, e, s[u]);
                        e = a.y - b.y;
                        s[u] = fmaf(e, e, s[u]);
                        e = a.z - b.z;
                        s[u] = fmaf(e, e, s[u]);
                        e = a.w - b.w;
                        s[u] = fmaf(e, e, s[u]);
                    } else {
                        s[u] = fmaf(a.x, b.x, s[u]);
                        s[u] = fmaf(a.y, b.y, s[u]);
                        s[u] = fmaf(a.z, b.z, s[u]);
                        s[u] = fmaf(a.w, b.w, s[u]);
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < PER_WARP; u++)
                s[u] = warp_sum(s[u]);
            if (lane == 0) {
                const float lt = ltau, nt = ntau;
#pragma unroll
                for (int u = 0; u < PER_WARP; u++) {
                    if (node[u] < 0)
                        continue;
                    float dist = metric == 1 ? s[u] : -s[u];
                    int leaf = leafID[node[u]];
                    if (leaf >= 0) {
                        if (dist < lt) {
                            int p = atomicAdd(&lcnt, 1);
                            ldist[p] = dist;
                            lid[p] = leaf;
                        }
                    } else if (dist < nt) {
                        int p = atomicAdd(&ncnt, 1);
                        ndist[p] = dist;
                        nid[p] = node[u];
                    }
                }
            }
            __syncthreads();
            const int lc = lcnt, nc = ncnt;
            __syncthreads();
            if (lc > lcap - ROUND)
                compact(ldist, lid, &lcnt, &ltau, nOut);
            if (nc > ncap - ROUND)
                compact(ndist, nid, &ncnt, &ntau, beam);
        }
        // The next frontier: this level's `beam` nearest inner nodes.
        compact(ndist, nid, &ncnt, &ntau, beam);
        const int nn = ncnt;
        for (int i = threadIdx.x; i < nn; i += NT) {
            fr[i] = nid[i];
            pre[i + 1] = childCount[nid[i]];
        }
        __syncthreads();
        if (warp == 0) {
            // pre[1..nn] := inclusive prefix sums of the child counts.
            const int per = (nn + 31) / 32;
            const int b = min(lane * per, nn), e = min(b + per, nn);
            int sum = 0;
            for (int i = b; i < e; i++)
                sum += pre[i + 1];
            int incl = sum;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                int v = __shfl_up_sync(FULL, incl, o);
                if (lane >= o)
                    incl += v;
            }
            int run = incl - sum;
            for (int i = b; i < e; i++) {
                run += pre[i + 1];
                pre[i + 1] = run;
            }
            if (lane == 0) {
                pre[0] = 0;
                nf = nn;
                ncnt = 0;
                ntau = f_inf();
            }
        }
        __syncthreads();
    }
    compact(ldist, lid, &lcnt, &ltau, nOut);
    const int have = lcnt;
    for (int i = threadIdx.x; i < nOut; i += NT) {
        outLeaf[(long long)qi * nOut + i] = i < have ? lid[i] : -1;
        outDist[(long long)qi * nOut + i] = i < have ? ldist[i] : f_inf();
    }
}

// ---- Level-resident balanced k-means (cluster.LevelAccelerator) ----
//
// A level is nseg k-means problems (segments): segment s owns positions
// pseg[s] .. pseg[s+1]-1 (data rows idx[p]; seg[p] = s) and centroid slots
// cseg[s] .. cseg[s+1]-1 of C (stride ld), 2 <= k_s < n_s. Per segment the
// device keeps it[s] (iterations done), active[s], pen[s] (the balance
// penalty per member, SPANN §3.1), cost[s] and nchg[s] (the last
// assignment's summed distance and changed labels); per slot, counts[c].
// Random choices come from lv_rand, a counter-based generator (splitmix64)
// keyed by the segment's seed, so a level's result does not depend on
// scheduling; the Go reference (level_test.go) draws the same numbers.
// Every reduction runs in a fixed order: results are deterministic.

__device__ __forceinline__ unsigned long long lv_mix(unsigned long long z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// lv_rand is random word i of stream tag of a segment's seed.
__device__ __forceinline__ unsigned long long lv_rand(unsigned long long seed, unsigned long long tag,
                                                      unsigned long long i)
{
    return lv_mix(seed ^ lv_mix((tag << 56) ^ i));
}

// lv_below maps a random word to [0, n).
__device__ __forceinline__ int lv_below(unsigned long long r, int n)
{
    return (int)(((r >> 32) * (unsigned long long)n) >> 32);
}

// lv_unit maps a random word to [0, 1).
__device__ __forceinline__ double lv_unit(unsigned long long r)
{
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

// The streams of lv_rand.
#define LV_SAMPLE 1 // i: the segment's i-th seeding sample point
#define LV_FIRST 2  // the first seed
#define LV_PICK 3   // j: the D^2 draw of seed j
#define LV_ANY 4    // j: seed j when every sample point is a seed already
#define LV_EMPTY 5  // it<<32 | j: the member moved to empty cluster j

// lv_dist2 is the squared distance of rows x and c (stride ld), summed by
// the warp: lanes take dimensions 4·lane + 128·u.
__device__ __forceinline__ float lv_dist2(const float* __restrict__ x, const float* __restrict__ c, int ld, int lane)
{
    float s = 0;
    for (int d = lane * 4; d < ld; d += 128) {
        float4 a = *(const float4*)(x + d);
        float4 b = *(const float4*)(c + d);
        float e;
        e = a.x - b.x;
        s = fmaf(e, e, s);
        e = a.y - b.y;
        s = fmaf(e, e, s);
        e = a.z - b.z;
        s = fmaf(e, e, s);
        e = a.w - b.w;
        s = fmaf(e, e, s);
    }
    return warp_sum(s);
}

// lv_segfill sets seg[p] = s for the positions of segment s (block s).
__global__ void lv_segfill(const int* __restrict__ pseg, int* __restrict__ seg)
{
    const int s = blockIdx.x;
    for (int p = pseg[s] + threadIdx.x; p < pseg[s + 1]; p += blockDim.x)
        seg[p] = s;
}

// lv_seed seeds segment blockIdx.x by k-means++ (Arthur & Vassilvitskii
// 2007) as package cluster's seedPlusPlus does: over a sample of S =
// min(n, 64k) points (all of them when S = n, else S drawn with
// replacement), the first seed uniform, each next one drawn with
// probability proportional to the squared distance to the nearest seed so
// far (the first sample point whose running sum of those reaches u·total).
// srow and minD hold the sample (soff[s] .. soff[s]+S-1).
__global__ void __launch_bounds__(NT)
lv_seed(const float* __restrict__ X, int ld, const int* __restrict__ idx, const int* __restrict__ pseg,
        const int* __restrict__ cseg, const unsigned long long* __restrict__ seeds,
        const long long* __restrict__ soff, int* __restrict__ srow, double* __restrict__ minD,
        float* __restrict__ C)
{
    __shared__ double wsum[NT / 32];
    __shared__ double sTotal;
    __shared__ int sPick;
    const int s = blockIdx.x, t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int p0 = pseg[s], n = pseg[s + 1] - p0;
    const int c0 = cseg[s], k = cseg[s + 1] - c0;
    const unsigned long long seed = seeds[s];
    const int S = min(n, 64 * k);
    int* rows = srow + soff[s];
    double* md = minD + soff[s];
    for (int i = t; i < S; i += NT) {
        const int p = S == n ? i : lv_below(lv_rand(seed, LV_SAMPLE, i), n);
        rows[i] = idx[p0 + p];
        md[i] = d_inf();
    }
    __syncthreads();
    int pick = rows[lv_below(lv_rand(seed, LV_FIRST, 0), S)];
    for (int d = t; d < ld; d += NT)
        C[(long long)c0 * ld + d] = X[(long long)pick * ld + d];
    const int m = (S + NT - 1) / NT; // each thread's run of the sample in the draw
    const int lo = min(t * m, S), hi = min(lo + m, S);
    for (int j = 1; j < k; j++) {
        __syncthreads();
        const float* prev = C + (long long)(c0 + j - 1) * ld;
        for (int i = warp; i < S; i += NT / 32) {
            const float d2 = lv_dist2(X + (long long)rows[i] * ld, prev, ld, lane);
            if (lane == 0 && (double)d2 < md[i])
                md[i] = (double)d2;
        }
        __syncthreads();
        double local = 0;
        for (int i = lo; i < hi; i++)
            local += md[i];
        double incl = local;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const double v = __shfl_up_sync(FULL, incl, o);
            if (lane >= o)
                incl += v;
        }
        if (lane == 31)
            wsum[warp] = incl;
        __syncthreads();
        if (t == 0) {
            double run = 0;
            for (int w = 0; w < NT / 32; w++) {
                const double v = wsum[w];
                wsum[w] = run;
                run += v;
            }
            sTotal = run;
            sPick = S;
        }
        __syncthreads();
        const double total = sTotal;
        if (total > 0) {
            const double r = lv_unit(lv_rand(seed, LV_PICK, j)) * total;
            double acc = wsum[warp] + (incl - local);
            for (int i = lo; i < hi; i++) {
                acc += md[i];
                if (acc >= r) {
                    atomicMin(&sPick, i);
                    break;
                }
            }
        }
        __syncthreads();
        pick = total > 0 && sPick < S ? rows[sPick] : rows[lv_below(lv_rand(seed, LV_ANY, j), S)];
        for (int d = t; d < ld; d += NT)
            C[(long long)(c0 + j) * ld + d] = X[(long long)pick * ld + d];
    }
}

// lv_assign is the assignment step of every active segment, one warp per
// position: the label is the slot j of the segment minimising
// (double)||x - c_j||^2 + (double)counts[j] * pen[s], the first on ties
// (package cluster's rule); chg[p] marks a label that changed (every label
// on a segment's first iteration).
__global__ void lv_assign(const float* __restrict__ X, int ld, const int* __restrict__ idx,
                          const int* __restrict__ seg, int n, const float* __restrict__ C,
                          const int* __restrict__ cseg, const int* __restrict__ counts,
                          const double* __restrict__ pen, const int* __restrict__ it,
                          const int* __restrict__ active, int* __restrict__ labels, float* __restrict__ dists,
                          unsigned char* __restrict__ chg)
{
    const int w = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (w >= n)
        return;
    const int s = seg[w];
    if (!active[s])
        return;
    const float* x = X + (long long)idx[w] * ld;
    const int c0 = cseg[s], c1 = cseg[s + 1];
    const double ps = pen[s];
    int best = c0;
    double bestv = d_inf();
    float bestd = 0;
    if (ld <= 128) {
        // The point stays in registers: one float4 per lane.
        const int d = lane * 4;
        const float4 a = d < ld ? *(const float4*)(x + d) : make_float4(0, 0, 0, 0);
        for (int j = c0; j < c1; j++) {
            float sd = 0;
            if (d < ld) {
                const float4 b = *(const float4*)(C + (long long)j * ld + d);
                float e;
                e = a.x - b.x;
                sd = fmaf(e, e, sd);
                e = a.y - b.y;
                sd = fmaf(e, e, sd);
                e = a.z - b.z;
                sd = fmaf(e, e, sd);
                e = a.w - b.w;
                sd = fmaf(e, e, sd);
            }
            sd = warp_sum(sd);
            const double v = (double)sd + (double)counts[j] * ps;
            if (v < bestv) {
                bestv = v;
                best = j;
                bestd = sd;
            }
        }
    } else {
        for (int j = c0; j < c1; j++) {
            const float sd = lv_dist2(x, C + (long long)j * ld, ld, lane);
            const double v = (double)sd + (double)counts[j] * ps;
            if (v < bestv) {
                bestv = v;
                best = j;
                bestd = sd;
            }
        }
    }
    if (lane == 0) {
        const int l = best - c0;
        chg[w] = it[s] == 0 || labels[w] != l;
        labels[w] = l;
        dists[w] = bestd;
    }
}

// lv_update is the update step over chunks of positions: block (q, y) is
// one warp summing dimensions 32y .. 32y+31 of the members of every
// cluster of chunk q (chunks[4q..4q+3] = segment, first and end position,
// partial slot) in float64, in position order, in shared memory (kmax
// clusters of 32 doubles, then kmax counts). A chunk that is its whole
// segment (slot -1) divides into the centroids (an empty cluster keeps its
// centroid) and writes counts, cost and changed labels; the others write
// partial sums (psum, row (slot*kmax + j)*dp) for lv_reduce.
__global__ void lv_update(const float* __restrict__ X, int ld, int dim, const int* __restrict__ idx,
                          const int* __restrict__ labels, const float* __restrict__ dists,
                          const unsigned char* __restrict__ chg, const int* __restrict__ active,
                          const int* __restrict__ cseg, const int* __restrict__ chunks, int kmax,
                          float* __restrict__ C, int* __restrict__ counts, double* __restrict__ cost,
                          int* __restrict__ nchg, double* __restrict__ psum, int* __restrict__ pcnt,
                          double* __restrict__ pcost, int* __restrict__ pchg)
{
    extern __shared__ double lv_smem[];
    double* acc = lv_smem;
    int* cnt = (int*)(lv_smem + kmax * 32);
    const int q = blockIdx.x, lane = threadIdx.x;
    const int s = chunks[4 * q], p0 = chunks[4 * q + 1], p1 = chunks[4 * q + 2], slot = chunks[4 * q + 3];
    if (!active[s])
        return;
    const int c0 = cseg[s], k = cseg[s + 1] - c0;
    const int d = blockIdx.y * 32 + lane;
    const bool in = d < dim;
    for (int j = 0; j < k; j++)
        acc[j * 32 + lane] = 0;
    for (int j = lane; j < k; j += 32)
        cnt[j] = 0;
    __syncwarp();
    double cs = 0;
    int ch = 0;
    int p = p0;
    for (; p + 8 <= p1; p += 8) {
        int l[8];
        float v[8];
#pragma unroll
        for (int u = 0; u < 8; u++) {
            l[u] = labels[p + u];
            v[u] = in ? X[(long long)idx[p + u] * ld + d] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < 8; u++)
            acc[l[u] * 32 + lane] += (double)v[u];
        if (lane == 0) {
#pragma unroll
            for (int u = 0; u < 8; u++) {
                cnt[l[u]]++;
                cs += (double)dists[p + u];
                ch += chg[p + u];
            }
        }
    }
    for (; p < p1; p++) {
        const int l = labels[p];
        acc[l * 32 + lane] += in ? (double)X[(long long)idx[p] * ld + d] : 0.0;
        if (lane == 0) {
            cnt[l]++;
            cs += (double)dists[p];
            ch += chg[p];
        }
    }
    __syncwarp();
    if (slot < 0) {
        for (int j = 0; j < k; j++) {
            const int cn = cnt[j];
            if (cn > 0 && in)
                C[(long long)(c0 + j) * ld + d] = (float)(acc[j * 32 + lane] * (1.0 / (double)cn));
        }
        if (blockIdx.y == 0) {
            for (int j = lane; j < k; j += 32)
                counts[c0 + j] = cnt[j];
            if (lane == 0) {
                cost[s] = cs;
                nchg[s] = ch;
            }
        }
        return;
    }
    const int dp = gridDim.y * 32;
    for (int j = 0; j < k; j++)
        psum[((long long)slot * kmax + j) * dp + d] = acc[j * 32 + lane];
    if (blockIdx.y == 0) {
        for (int j = lane; j < k; j += 32)
            pcnt[slot * kmax + j] = cnt[j];
        if (lane == 0) {
            pcost[slot] = cs;
            pchg[slot] = ch;
        }
    }
}

// lv_reduce finishes the update of segments split into several chunks:
// block (m*kmax + j, y) adds, in chunk order, the partial sums of cluster
// j of multi-chunk segment m (multi[3m..3m+2] = segment, first and end
// slot) for dimensions 32y .. 32y+31, and divides as lv_update does.
__global__ void lv_reduce(int ld, int dim, const int* __restrict__ active, const int* __restrict__ cseg,
                          const int* __restrict__ multi, int kmax, const double* __restrict__ psum,
                          const int* __restrict__ pcnt, const double* __restrict__ pcost,
                          const int* __restrict__ pchg, float* __restrict__ C, int* __restrict__ counts,
                          double* __restrict__ cost, int* __restrict__ nchg)
{
    const int m = blockIdx.x / kmax, j = blockIdx.x % kmax, lane = threadIdx.x;
    const int s = multi[3 * m], q0 = multi[3 * m + 1], q1 = multi[3 * m + 2];
    if (!active[s])
        return;
    const int c0 = cseg[s], k = cseg[s + 1] - c0;
    if (j >= k)
        return;
    const int dp = gridDim.y * 32;
    const int d = blockIdx.y * 32 + lane;
    double a = 0;
    int cn = 0;
#pragma unroll 8
    for (int q = q0; q < q1; q++) {
        a += psum[((long long)q * kmax + j) * dp + d];
        cn += pcnt[q * kmax + j];
    }
    if (cn > 0 && d < dim)
        C[(long long)(c0 + j) * ld + d] = (float)(a * (1.0 / (double)cn));
    if (blockIdx.y == 0 && lane == 0) {
        counts[c0 + j] = cn;
        if (j == 0) {
            double cs = 0;
            int ch = 0;
            for (int q = q0; q < q1; q++) {
                cs += pcost[q];
                ch += pchg[q];
            }
            cost[s] = cs;
            nchg[s] = ch;
        }
    }
}

// lv_finish ends an iteration of every active segment, one warp per
// segment: package cluster's fixEmpty (each empty cluster, in order, takes
// a random member of the first largest cluster while that has at least
// two), the next balance penalty pen = lambda * (cost/n) / (n/k), and the
// stopping rule (after `iters` iterations, or once fewer than n/1000
// labels changed after the second); *nActive counts the segments that go
// on.
__global__ void lv_finish(const float* __restrict__ X, int ld, const int* __restrict__ idx,
                          const int* __restrict__ pseg, const int* __restrict__ cseg, int nseg,
                          const unsigned long long* __restrict__ seeds, int iters, double lambda,
                          const double* __restrict__ cost, const int* __restrict__ nchg, int* __restrict__ labels,
                          float* __restrict__ C, int* __restrict__ counts, double* __restrict__ pen,
                          int* __restrict__ it, int* __restrict__ active, int* __restrict__ nActive)
{
    const int s = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (s >= nseg || !active[s])
        return;
    const int p0 = pseg[s], n = pseg[s + 1] - p0, c0 = cseg[s], k = cseg[s + 1] - c0;
    const int itNow = it[s];
    int* cnt = counts + c0;
    for (int j = 0; j < k; j++) {
        if (cnt[j] != 0)
            continue;
        int bc = -1, bj = 0;
        for (int l = lane; l < k; l += 32) {
            const int v = cnt[l];
            if (v > bc) {
                bc = v;
                bj = l;
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const int oc = __shfl_xor_sync(FULL, bc, o), oj = __shfl_xor_sync(FULL, bj, o);
            if (oc > bc || (oc == bc && oj < bj)) {
                bc = oc;
                bj = oj;
            }
        }
        if (bc < 2)
            break;
        int r = lv_below(lv_rand(seeds[s], LV_EMPTY, ((unsigned long long)itNow << 32) | (unsigned)j), bc);
        int pos = -1;
        for (int base = p0; base < p0 + n; base += 32) {
            const int p = base + lane;
            const bool hit = p < p0 + n && labels[p] == bj;
            const unsigned mask = __ballot_sync(FULL, hit);
            const int c = __popc(mask);
            if (r < c) {
                const bool sel = hit && __popc(mask & ((1u << lane) - 1u)) == r;
                pos = base + __ffs(__ballot_sync(FULL, sel)) - 1;
                break;
            }
            r -= c;
        }
        if (pos < 0)
            break; // cannot happen: the counts are the labels'
        if (lane == 0) {
            labels[pos] = j;
            cnt[j] = 1;
            cnt[bj] = bc - 1;
        }
        const float* x = X + (long long)idx[pos] * ld;
        for (int d = lane; d < ld; d += 32)
            C[(long long)(c0 + j) * ld + d] = x[d];
        __syncwarp();
    }
    if (lane == 0) {
        pen[s] = lambda * (cost[s] / n) / ((double)n / (double)k);
        const int next = itNow + 1;
        it[s] = next;
        const bool stop = (next > 1 && (long long)nchg[s] * 1000 < n) || next >= iters;
        active[s] = !stop;
        if (!stop)
            atomicAdd(nActive, 1);
    }
}

} // extern "C"
