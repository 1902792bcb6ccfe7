// The slice of the CUDA driver API and cuBLAS that package gpu uses,
// declared here so that the package builds with no CUDA toolkit: both
// libraries are opened at run time with dlopen (cuda_driver.c), never
// linked. The types and enum values below are those of cuda.h and
// cublas_api.h; the driver API keeps them stable across versions, and the
// versioned entry points (_v2) are named where the plain name is legacy.

#ifndef SHOAL_CUDA_DRIVER_H
#define SHOAL_CUDA_DRIVER_H

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;
typedef unsigned long long CUdeviceptr;

enum {
    SC_ATTR_MULTIPROCESSOR_COUNT = 16,
    SC_ATTR_CC_MAJOR = 75,
    SC_ATTR_CC_MINOR = 76,
    SC_ATTR_SMEM_OPTIN = 97,
    SC_FUNC_MAX_DYNAMIC_SMEM = 8,
    SC_STREAM_NON_BLOCKING = 1,
    SC_EVENT_DEFAULT = 0,
    SC_MEMHOSTALLOC_PORTABLE = 1,
    SC_ERROR_OUT_OF_MEMORY = 2,
};

// sc_open loads libcuda.so.1 and resolves every entry point. It returns 0,
// or -1 with a reason in buf (dlerror's message, or the missing symbol).
int sc_open(char* buf, int bufsize);

// sc_cublas_open loads cuBLAS from one of the names in the NUL-separated,
// double-NUL-terminated list; 0 on success, -1 with a reason in buf.
int sc_cublas_open(const char* names, char* buf, int bufsize);

const char* sc_error_name(CUresult r);
const char* sc_error_string(CUresult r);

CUresult sc_init(void);
CUresult sc_driver_version(int* v);
CUresult sc_device_count(int* n);
CUresult sc_device_get(CUdevice* d, int ordinal);
CUresult sc_device_name(char* name, int len, CUdevice d);
CUresult sc_device_attr(int* v, int attr, CUdevice d);
CUresult sc_device_total_mem(size_t* bytes, CUdevice d);
CUresult sc_primary_ctx_retain(CUcontext* c, CUdevice d);
CUresult sc_primary_ctx_release(CUdevice d);
CUresult sc_ctx_set_current(CUcontext c);
CUresult sc_mem_get_info(size_t* free, size_t* total);
CUresult sc_mem_alloc(CUdeviceptr* p, size_t bytes);
CUresult sc_mem_free(CUdeviceptr p);
CUresult sc_mem_host_alloc(void** p, size_t bytes);
CUresult sc_mem_free_host(void* p);
CUresult sc_memcpy_htod_async(CUdeviceptr dst, const void* src, size_t bytes, CUstream s);
CUresult sc_memcpy_dtoh_async(void* dst, CUdeviceptr src, size_t bytes, CUstream s);
CUresult sc_memset_d32_async(CUdeviceptr dst, unsigned v, size_t n, CUstream s);
CUresult sc_module_load(CUmodule* m, const void* image, char* log, int logsize);
CUresult sc_module_unload(CUmodule m);
CUresult sc_module_function(CUfunction* f, CUmodule m, const char* name);
CUresult sc_func_set_attr(CUfunction f, int attr, int v);
// sc_launch launches f with nargs parameters whose values lie in args at
// the byte offsets offs (the Go side packs them; see cuda_launch.go).
CUresult sc_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, CUstream s, void* args, int nargs, const int* offs);
CUresult sc_stream_create(CUstream* s);
CUresult sc_stream_destroy(CUstream s);
CUresult sc_stream_sync(CUstream s);
CUresult sc_event_create(CUevent* e);
CUresult sc_event_destroy(CUevent e);
CUresult sc_event_record(CUevent e, CUstream s);
CUresult sc_event_sync(CUevent e);
CUresult sc_event_elapsed(float* ms, CUevent a, CUevent b);

// cuBLAS (column-major). Status 0 is success.
int sc_cublas_create(void** h);
int sc_cublas_destroy(void* h);
int sc_cublas_version(void* h, int* v);
int sc_cublas_set_stream(void* h, CUstream s);
// sc_cublas_sgemm computes C = alpha op(A) op(B) + beta C; trans 0 = N, 1 = T.
int sc_cublas_sgemm(void* h, int transa, int transb, int m, int n, int k, float alpha,
                    CUdeviceptr A, int lda, CUdeviceptr B, int ldb, float beta, CUdeviceptr C,
                    int ldc);

#endif
