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

} // extern "C"
