//go:build !noasm

#include "textflag.h"

// Float16 kernels for AVX2+FMA+F16C: a float32 query q against a stored
// vector v of binary16 bit patterns.
//
// VCVTPH2PS widens 8 halves (16 bytes) into a YMM of floats, exactly, and
// from there the loops are those of distance_f32_amd64.s: 32 components at
// a time into four independent accumulators (Y4-Y7), then 8 at a time. The
// last 0-7 components cannot use a masked load for v, since AVX2 has none
// at 16-bit granularity, so they are gathered one by one into X1, last
// first, each VPSLLDQ making room at the bottom for the next, and widened
// with the lanes above them zero; the query's tail comes through one masked
// load. Nothing past the end of either slice is read. The widened zeros
// pair with masked-off zeros, so the unused lanes add 0 to the sums.
//
// For L2 the difference is taken as v-q, the sign of which the square
// discards, so that the memory operand of VSUBPS can be q.
//
// Registers:
//   AX  walks q
//   DI  walks v
//   DX  components left, then the tail size in bytes of q
//   BX  walks the tail of v backwards, then holds the tail mask's address
//   R10 the tail's start in v
//   Y0-Y3 scratch, Y4-Y7 accumulators, Y8 tail mask
// The result is left in the low lane of X4.

// f16TailMask<> is eight all-ones dwords then eight zero dwords; the 32
// bytes at f16TailMask<>+32-4*r select the first r lanes. (tailMask<> of
// distance_f32_amd64.s is private to that file.)
DATA f16TailMask<>+0x00(SB)/8, $0xffffffffffffffff
DATA f16TailMask<>+0x08(SB)/8, $0xffffffffffffffff
DATA f16TailMask<>+0x10(SB)/8, $0xffffffffffffffff
DATA f16TailMask<>+0x18(SB)/8, $0xffffffffffffffff
DATA f16TailMask<>+0x20(SB)/8, $0
DATA f16TailMask<>+0x28(SB)/8, $0
DATA f16TailMask<>+0x30(SB)/8, $0
DATA f16TailMask<>+0x38(SB)/8, $0
GLOBL f16TailMask<>(SB), RODATA|NOPTR, $64

#define ZERO_ACC \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

// REDUCE_ACC folds Y4-Y7 into the low lane of X4.
#define REDUCE_ACC \
	VADDPS       Y5, Y4, Y4; \
	VADDPS       Y7, Y6, Y6; \
	VADDPS       Y6, Y4, Y4; \
	VEXTRACTF128 $1, Y4, X5; \
	VADDPS       X5, X4, X4; \
	VPERMILPS    $0x4e, X4, X5; \
	VADDPS       X5, X4, X4; \
	VPERMILPS    $0xb1, X4, X5; \
	VADDSS       X5, X4, X4

// F16_TAIL loads the DX (1-7) components left into Y0 (q, masked) and Y1
// (v, widened), zero in the lanes above them. It advances neither AX nor
// DI, which nothing reads after the tail.
#define F16_TAIL(label) \
	LEAQ       (DI)(DX*2), BX; \
	MOVQ       DI, R10; \
	VPXOR      X1, X1, X1; \
label: \
	SUBQ       $2, BX; \
	VPSLLDQ    $2, X1, X1; \
	VPINSRW    $0, (BX), X1, X1; \
	CMPQ       BX, R10; \
	JA         label; \
	VCVTPH2PS  X1, Y1; \
	SHLQ       $2, DX; \
	LEAQ       f16TailMask<>+32(SB), BX; \
	SUBQ       DX, BX; \
	VMOVDQU    (BX), Y8; \
	VMASKMOVPS (AX), Y8, Y0

// func l2SquaredF16AVX2(q []float32, v []uint16) float32
TEXT ·l2SquaredF16AVX2(SB), NOSPLIT, $0-52
	MOVQ q_base+0(FP), AX
	MOVQ q_len+8(FP), DX
	MOVQ v_base+24(FP), DI
	ZERO_ACC
	CMPQ DX, $32
	JB   by8

by32:
	VCVTPH2PS   (DI), Y0
	VCVTPH2PS   16(DI), Y1
	VCVTPH2PS   32(DI), Y2
	VCVTPH2PS   48(DI), Y3
	VSUBPS      (AX), Y0, Y0
	VSUBPS      32(AX), Y1, Y1
	VSUBPS      64(AX), Y2, Y2
	VSUBPS      96(AX), Y3, Y3
	VFMADD231PS Y0, Y0, Y4
	VFMADD231PS Y1, Y1, Y5
	VFMADD231PS Y2, Y2, Y6
	VFMADD231PS Y3, Y3, Y7
	ADDQ        $128, AX
	ADDQ        $64, DI
	SUBQ        $32, DX
	CMPQ        DX, $32
	JAE         by32

by8:
	CMPQ        DX, $8
	JB          tail
	VCVTPH2PS   (DI), Y0
	VSUBPS      (AX), Y0, Y0
	VFMADD231PS Y0, Y0, Y5
	ADDQ        $32, AX
	ADDQ        $16, DI
	SUBQ        $8, DX
	JMP         by8

tail:
	TESTQ       DX, DX
	JZ          reduce
	F16_TAIL(gather)
	VSUBPS      Y0, Y1, Y1
	VFMADD231PS Y1, Y1, Y6

reduce:
	REDUCE_ACC
	VZEROUPPER
	VMOVSS X4, ret+48(FP)
	RET

// func dotF16AVX2(q []float32, v []uint16) float32
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-52
	MOVQ q_base+0(FP), AX
	MOVQ q_len+8(FP), DX
	MOVQ v_base+24(FP), DI
	ZERO_ACC
	CMPQ DX, $32
	JB   by8

by32:
	VCVTPH2PS   (DI), Y0
	VCVTPH2PS   16(DI), Y1
	VCVTPH2PS   32(DI), Y2
	VCVTPH2PS   48(DI), Y3
	VFMADD231PS (AX), Y0, Y4
	VFMADD231PS 32(AX), Y1, Y5
	VFMADD231PS 64(AX), Y2, Y6
	VFMADD231PS 96(AX), Y3, Y7
	ADDQ        $128, AX
	ADDQ        $64, DI
	SUBQ        $32, DX
	CMPQ        DX, $32
	JAE         by32

by8:
	CMPQ        DX, $8
	JB          tail
	VCVTPH2PS   (DI), Y0
	VFMADD231PS (AX), Y0, Y5
	ADDQ        $32, AX
	ADDQ        $16, DI
	SUBQ        $8, DX
	JMP         by8

tail:
	TESTQ       DX, DX
	JZ          reduce
	F16_TAIL(gather)
	VFMADD231PS Y1, Y0, Y6

reduce:
	REDUCE_ACC
	VZEROUPPER
	VMOVSS X4, ret+48(FP)
	RET
