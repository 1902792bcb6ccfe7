//go:build !noasm

#include "textflag.h"

// Float32 kernels for AVX2+FMA.
//
// A row is consumed 32 floats at a time into four independent YMM
// accumulators (Y4-Y7): FMA has a latency of four or five cycles and the loop is
// bound by two loads per FMA, so four chains keep the units busy. What is
// left goes 8 floats at a time, and the last 0-7 floats through one masked
// load, which reads nothing past the end of the slice.
//
// Registers, shared by the row macros:
//   SI  start of the query (or a), preserved
//   AX  walks the query (or a), reset from SI for each row
//   DI  walks the data row (or b); after a row it points at the next row
//   CX  dimension (preserved)
//   DX  floats left in the row, then the tail size in bytes
//   BX  address of the tail mask
//   Y0-Y3 scratch, Y4-Y7 accumulators, Y8 tail mask
// and in the batch kernels R8 walks out and R9 counts the rows left.
// The row's result is left in the low lane of X4.

// tailMask<> is eight all-ones dwords then eight zero dwords; the 32 bytes
// at tailMask<>+32-4*r select the first r lanes.
DATA tailMask<>+0x00(SB)/8, $0xffffffffffffffff
DATA tailMask<>+0x08(SB)/8, $0xffffffffffffffff
DATA tailMask<>+0x10(SB)/8, $0xffffffffffffffff
DATA tailMask<>+0x18(SB)/8, $0xffffffffffffffff
DATA tailMask<>+0x20(SB)/8, $0
DATA tailMask<>+0x28(SB)/8, $0
DATA tailMask<>+0x30(SB)/8, $0
DATA tailMask<>+0x38(SB)/8, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

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

// TAIL_MASK loads into Y8 the mask for the DX (1-7) floats left, and turns
// DX into their size in bytes.
#define TAIL_MASK \
	SHLQ    $2, DX; \
	LEAQ    tailMask<>+32(SB), BX; \
	SUBQ    DX, BX; \
	VMOVDQU (BX), Y8

// L2_ROW leaves in X4 the squared distance between the CX floats at SI and
// those at DI, and advances DI past them.
#define L2_ROW \
	MOVQ SI, AX; \
	MOVQ CX, DX; \
	ZERO_ACC; \
	CMPQ DX, $32; \
	JB   l2by8; \
l2by32: \
	VMOVUPS     (AX), Y0; \
	VMOVUPS     32(AX), Y1; \
	VMOVUPS     64(AX), Y2; \
	VMOVUPS     96(AX), Y3; \
	VSUBPS      (DI), Y0, Y0; \
	VSUBPS      32(DI), Y1, Y1; \
	VSUBPS      64(DI), Y2, Y2; \
	VSUBPS      96(DI), Y3, Y3; \
	VFMADD231PS Y0, Y0, Y4; \
	VFMADD231PS Y1, Y1, Y5; \
	VFMADD231PS Y2, Y2, Y6; \
	VFMADD231PS Y3, Y3, Y7; \
	ADDQ        $128, AX; \
	ADDQ        $128, DI; \
	SUBQ        $32, DX; \
	CMPQ        DX, $32; \
	JAE         l2by32; \
l2by8: \
	CMPQ        DX, $8; \
	JB          l2tail; \
	VMOVUPS     (AX), Y0; \
	VSUBPS      (DI), Y0, Y0; \
	VFMADD231PS Y0, Y0, Y5; \
	ADDQ        $32, AX; \
	ADDQ        $32, DI; \
	SUBQ        $8, DX; \
	JMP         l2by8; \
l2tail: \
	TESTQ       DX, DX; \
	JZ          l2reduce; \
	TAIL_MASK; \
	VMASKMOVPS  (AX), Y8, Y0; \
	VMASKMOVPS  (DI), Y8, Y1; \
	VSUBPS      Y1, Y0, Y0; \
	VFMADD231PS Y0, Y0, Y6; \
	ADDQ        DX, DI; \
l2reduce: \
	REDUCE_ACC

// DOT_ROW leaves in X4 the dot product of the CX floats at SI and those at
// DI, and advances DI past them.
#define DOT_ROW \
	MOVQ SI, AX; \
	MOVQ CX, DX; \
	ZERO_ACC; \
	CMPQ DX, $32; \
	JB   dotby8; \
dotby32: \
	VMOVUPS     (AX), Y0; \
	VMOVUPS     32(AX), Y1; \
	VMOVUPS     64(AX), Y2; \
	VMOVUPS     96(AX), Y3; \
	VFMADD231PS (DI), Y0, Y4; \
	VFMADD231PS 32(DI), Y1, Y5; \
	VFMADD231PS 64(DI), Y2, Y6; \
	VFMADD231PS 96(DI), Y3, Y7; \
	ADDQ        $128, AX; \
	ADDQ        $128, DI; \
	SUBQ        $32, DX; \
	CMPQ        DX, $32; \
	JAE         dotby32; \
dotby8: \
	CMPQ        DX, $8; \
	JB          dottail; \
	VMOVUPS     (AX), Y0; \
	VFMADD231PS (DI), Y0, Y5; \
	ADDQ        $32, AX; \
	ADDQ        $32, DI; \
	SUBQ        $8, DX; \
	JMP         dotby8; \
dottail: \
	TESTQ       DX, DX; \
	JZ          dotreduce; \
	TAIL_MASK; \
	VMASKMOVPS  (AX), Y8, Y0; \
	VMASKMOVPS  (DI), Y8, Y1; \
	VFMADD231PS Y1, Y0, Y6; \
	ADDQ        DX, DI; \
dotreduce: \
	REDUCE_ACC

// func l2SquaredF32AVX2(a, b []float32) float32
TEXT ·l2SquaredF32AVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	L2_ROW
	VZEROUPPER
	VMOVSS X4, ret+48(FP)
	RET

// func dotF32AVX2(a, b []float32) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	DOT_ROW
	VZEROUPPER
	VMOVSS X4, ret+48(FP)
	RET

// func l2SquaredF32BatchAVX2(q, data, out []float32)
TEXT ·l2SquaredF32BatchAVX2(SB), NOSPLIT, $0-72
	MOVQ  q_base+0(FP), SI
	MOVQ  q_len+8(FP), CX
	MOVQ  data_base+24(FP), DI
	MOVQ  out_base+48(FP), R8
	MOVQ  out_len+56(FP), R9
	TESTQ R9, R9
	JZ    done

row:
	L2_ROW
	VMOVSS X4, (R8)
	ADDQ  $4, R8
	DECQ  R9
	JNZ   row

done:
	VZEROUPPER
	RET

// func dotF32BatchAVX2(q, data, out []float32)
TEXT ·dotF32BatchAVX2(SB), NOSPLIT, $0-72
	MOVQ  q_base+0(FP), SI
	MOVQ  q_len+8(FP), CX
	MOVQ  data_base+24(FP), DI
	MOVQ  out_base+48(FP), R8
	MOVQ  out_len+56(FP), R9
	TESTQ R9, R9
	JZ    done

row:
	DOT_ROW
	VMOVSS X4, (R8)
	ADDQ  $4, R8
	DECQ  R9
	JNZ   row

done:
	VZEROUPPER
	RET
