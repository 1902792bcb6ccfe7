//go:build linux && cgo

// Run-time binding of the CUDA driver API and cuBLAS (see cuda_driver.h).

#include "cuda_driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static struct {
    CUresult (*init)(unsigned);
    CUresult (*driverGetVersion)(int*);
    CUresult (*deviceGetCount)(int*);
    CUresult (*deviceGet)(CUdevice*, int);
    CUresult (*deviceGetName)(char*, int, CUdevice);
    CUresult (*deviceGetAttribute)(int*, int, CUdevice);
    CUresult (*deviceTotalMem)(size_t*, CUdevice);
    CUresult (*primaryCtxRetain)(CUcontext*, CUdevice);
    CUresult (*primaryCtxRelease)(CUdevice);
    CUresult (*ctxSetCurrent)(CUcontext);
    CUresult (*memGetInfo)(size_t*, size_t*);
    CUresult (*memAlloc)(CUdeviceptr*, size_t);
    CUresult (*memFree)(CUdeviceptr);
    CUresult (*memHostAlloc)(void**, size_t, unsigned);
    CUresult (*memFreeHost)(void*);
    CUresult (*memcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
    CUresult (*memcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
    CUresult (*memsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
    CUresult (*moduleLoadDataEx)(CUmodule*, const void*, unsigned, int*, void**);
    CUresult (*moduleUnload)(CUmodule);
    CUresult (*moduleGetFunction)(CUfunction*, CUmodule, const char*);
    CUresult (*funcSetAttribute)(CUfunction, int, int);
    CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
    CUresult (*streamCreate)(CUstream*, unsigned);
    CUresult (*streamDestroy)(CUstream);
    CUresult (*streamSynchronize)(CUstream);
    CUresult (*eventCreate)(CUevent*, unsigned);
    CUresult (*eventDestroy)(CUevent);
    CUresult (*eventRecord)(CUevent, CUstream);
    CUresult (*eventSynchronize)(CUevent);
    CUresult (*eventElapsedTime)(float*, CUevent, CUevent);
    CUresult (*getErrorName)(CUresult, const char**);
    CUresult (*getErrorString)(CUresult, const char**);
} cu;

static struct {
    int (*create)(void**);
    int (*destroy)(void*);
    int (*getVersion)(void*, int*);
    int (*setStream)(void*, CUstream);
    int (*sgemm)(void*, int, int, int, int, int, const float*, const float*, int, const float*, int,
                 const float*, float*, int);
} blas;

#define SYM(lib, field, name)                                                                      \
    do {                                                                                           \
        *(void**)(&field) = dlsym(lib, name);                                                      \
        if (!field) {                                                                              \
            snprintf(buf, bufsize, "symbol %s not found", name);                                   \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

int sc_open(char* buf, int bufsize)
{
    void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        snprintf(buf, bufsize, "%s", e ? e : "dlopen libcuda.so.1 failed");
        return -1;
    }
    SYM(h, cu.init, "cuInit");
    SYM(h, cu.driverGetVersion, "cuDriverGetVersion");
    SYM(h, cu.deviceGetCount, "cuDeviceGetCount");
    SYM(h, cu.deviceGet, "cuDeviceGet");
    SYM(h, cu.deviceGetName, "cuDeviceGetName");
    SYM(h, cu.deviceGetAttribute, "cuDeviceGetAttribute");
    SYM(h, cu.deviceTotalMem, "cuDeviceTotalMem_v2");
    SYM(h, cu.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
    SYM(h, cu.primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    SYM(h, cu.ctxSetCurrent, "cuCtxSetCurrent");
    SYM(h, cu.memGetInfo, "cuMemGetInfo_v2");
    SYM(h, cu.memAlloc, "cuMemAlloc_v2");
    SYM(h, cu.memFree, "cuMemFree_v2");
    SYM(h, cu.memHostAlloc, "cuMemHostAlloc");
    SYM(h, cu.memFreeHost, "cuMemFreeHost");
    SYM(h, cu.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    SYM(h, cu.memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    SYM(h, cu.memsetD32Async, "cuMemsetD32Async");
    SYM(h, cu.moduleLoadDataEx, "cuModuleLoadDataEx");
    SYM(h, cu.moduleUnload, "cuModuleUnload");
    SYM(h, cu.moduleGetFunction, "cuModuleGetFunction");
    SYM(h, cu.funcSetAttribute, "cuFuncSetAttribute");
    SYM(h, cu.launchKernel, "cuLaunchKernel");
    SYM(h, cu.streamCreate, "cuStreamCreate");
    SYM(h, cu.streamDestroy, "cuStreamDestroy_v2");
    SYM(h, cu.streamSynchronize, "cuStreamSynchronize");
    SYM(h, cu.eventCreate, "cuEventCreate");
    SYM(h, cu.eventDestroy, "cuEventDestroy_v2");
    SYM(h, cu.eventRecord, "cuEventRecord");
    SYM(h, cu.eventSynchronize, "cuEventSynchronize");
    SYM(h, cu.eventElapsedTime, "cuEventElapsedTime");
    SYM(h, cu.getErrorName, "cuGetErrorName");
    SYM(h, cu.getErrorString, "cuGetErrorString");
    return 0;
}

int sc_cublas_open(const char* names, char* buf, int bufsize)
{
    void* h = NULL;
    buf[0] = 0;
    for (const char* n = names; *n; n += strlen(n) + 1) {
        h = dlopen(n, RTLD_NOW | RTLD_LOCAL);
        if (h)
            break;
    }
    if (!h) {
        const char* e = dlerror();
        snprintf(buf, bufsize, "%s", e ? e : "no cuBLAS library found");
        return -1;
    }
    SYM(h, blas.create, "cublasCreate_v2");
    SYM(h, blas.destroy, "cublasDestroy_v2");
    SYM(h, blas.getVersion, "cublasGetVersion_v2");
    SYM(h, blas.setStream, "cublasSetStream_v2");
    SYM(h, blas.sgemm, "cublasSgemm_v2");
    return 0;
}

const char* sc_error_name(CUresult r)
{
    const char* s = NULL;
    if (cu.getErrorName)
        cu.getErrorName(r, &s);
    return s ? s : "CUDA_ERROR_UNKNOWN";
}

const char* sc_error_string(CUresult r)
{
    const char* s = NULL;
    if (cu.getErrorString)
        cu.getErrorString(r, &s);
    return s ? s : "unknown error";
}

CUresult sc_init(void) { return cu.init(0); }
CUresult sc_driver_version(int* v) { return cu.driverGetVersion(v); }
CUresult sc_device_count(int* n) { return cu.deviceGetCount(n); }
CUresult sc_device_get(CUdevice* d, int ordinal) { return cu.deviceGet(d, ordinal); }
CUresult sc_device_name(char* name, int len, CUdevice d) { return cu.deviceGetName(name, len, d); }
CUresult sc_device_attr(int* v, int attr, CUdevice d) { return cu.deviceGetAttribute(v, attr, d); }
CUresult sc_device_total_mem(size_t* bytes, CUdevice d) { return cu.deviceTotalMem(bytes, d); }
CUresult sc_primary_ctx_retain(CUcontext* c, CUdevice d) { return cu.primaryCtxRetain(c, d); }
CUresult sc_primary_ctx_release(CUdevice d) { return cu.primaryCtxRelease(d); }
CUresult sc_ctx_set_current(CUcontext c) { return cu.ctxSetCurrent(c); }
CUresult sc_mem_get_info(size_t* free, size_t* total) { return cu.memGetInfo(free, total); }
CUresult sc_mem_alloc(CUdeviceptr* p, size_t bytes) { return cu.memAlloc(p, bytes); }
CUresult sc_mem_free(CUdeviceptr p) { return cu.memFree(p); }
CUresult sc_mem_host_alloc(void** p, size_t bytes)
{
    return cu.memHostAlloc(p, bytes, SC_MEMHOSTALLOC_PORTABLE);
}
CUresult sc_mem_free_host(void* p) { return cu.memFreeHost(p); }
CUresult sc_memcpy_htod_async(CUdeviceptr dst, const void* src, size_t bytes, CUstream s)
{
    return cu.memcpyHtoDAsync(dst, src, bytes, s);
}
CUresult sc_memcpy_dtoh_async(void* dst, CUdeviceptr src, size_t bytes, CUstream s)
{
    return cu.memcpyDtoHAsync(dst, src, bytes, s);
}
CUresult sc_memset_d32_async(CUdeviceptr dst, unsigned v, size_t n, CUstream s)
{
    return cu.memsetD32Async(dst, v, n, s);
}

CUresult sc_module_load(CUmodule* m, const void* image, char* log, int logsize)
{
    // CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6.
    int opts[2] = {5, 6};
    void* vals[2] = {log, (void*)(size_t)logsize};
    log[0] = 0;
    return cu.moduleLoadDataEx(m, image, 2, opts, vals);
}
CUresult sc_module_unload(CUmodule m) { return cu.moduleUnload(m); }
CUresult sc_module_function(CUfunction* f, CUmodule m, const char* name)
{
    return cu.moduleGetFunction(f, m, name);
}
CUresult sc_func_set_attr(CUfunction f, int attr, int v) { return cu.funcSetAttribute(f, attr, v); }

CUresult sc_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, CUstream s, void* args, int nargs, const int* offs)
{
    void* params[32];
    if (nargs > 32)
        return 1; // CUDA_ERROR_INVALID_VALUE
    for (int i = 0; i < nargs; i++)
        params[i] = (char*)args + offs[i];
    return cu.launchKernel(f, gx, gy, gz, bx, by, bz, smem, s, params, NULL);
}

CUresult sc_stream_create(CUstream* s) { return cu.streamCreate(s, SC_STREAM_NON_BLOCKING); }
CUresult sc_stream_destroy(CUstream s) { return cu.streamDestroy(s); }
CUresult sc_stream_sync(CUstream s) { return cu.streamSynchronize(s); }
CUresult sc_event_create(CUevent* e) { return cu.eventCreate(e, SC_EVENT_DEFAULT); }
CUresult sc_event_destroy(CUevent e) { return cu.eventDestroy(e); }
CUresult sc_event_record(CUevent e, CUstream s) { return cu.eventRecord(e, s); }
CUresult sc_event_sync(CUevent e) { return cu.eventSynchronize(e); }
CUresult sc_event_elapsed(float* ms, CUevent a, CUevent b) { return cu.eventElapsedTime(ms, a, b); }

int sc_cublas_create(void** h) { return blas.create(h); }
int sc_cublas_destroy(void* h) { return blas.destroy(h); }
int sc_cublas_version(void* h, int* v) { return blas.getVersion(h, v); }
int sc_cublas_set_stream(void* h, CUstream s) { return blas.setStream(h, s); }
int sc_cublas_sgemm(void* h, int transa, int transb, int m, int n, int k, float alpha, CUdeviceptr A,
                    int lda, CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc)
{
    // cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1.
    return blas.sgemm(h, transa, transb, m, n, k, &alpha, (const float*)A, lda, (const float*)B, ldb,
                      &beta, (float*)C, ldc);
}
