//go:build !noasm

#include "textflag.h"

// dot1x4AVX2 scores a 1-bit code against a 4-bit query, 256 bits (four
// uint64 words) per step, with the nibble-table popcount of W. Muła,
// N. Kurz and D. Lemire ("Faster population counts using AVX2
// instructions", 2018): VPSHUFB looks up the popcount of every low and
// high nibble. For each step the byte counts of code∧q⁽ᵏ⁾ are combined as
// ((2c₃ + c₂)·2 + c₁)·2 + c₀ ≤ 8·15 = 120 per byte, so no byte overflows,
// and VPSADBW folds them into four uint64 lanes. The code's own popcount
// is summed the same way.
//
// func dot1x4AVX2(code *byte, qp *uint64, stride, chunks int) (ip, pc uint64)
//
// Registers:
//   SI      code
//   DI, R9, R10, R11  query planes 0-3 (stride bytes apart)
//   CX      steps left
//   Y15     nibble popcount table, Y14 0x0f mask, Y13 zero
//   Y12     Σ weighted counts, Y11 Σ code counts (uint64 lanes)

DATA nibblePopcnt<>+0(SB)/8, $0x0302020102010100
DATA nibblePopcnt<>+8(SB)/8, $0x0403030203020201
DATA nibblePopcnt<>+16(SB)/8, $0x0302020102010100
DATA nibblePopcnt<>+24(SB)/8, $0x0403030203020201
GLOBL nibblePopcnt<>(SB), RODATA|NOPTR, $32

DATA lowNibbles<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL lowNibbles<>(SB), RODATA|NOPTR, $32

// BYTE_POPCNT sets dst to the popcount of each byte of src; tmp is
// clobbered.
#define BYTE_POPCNT(src, dst, tmp) \
	VPSRLW  $4, src, tmp; \
	VPAND   Y14, src, dst; \
	VPAND   Y14, tmp, tmp; \
	VPSHUFB dst, Y15, dst; \
	VPSHUFB tmp, Y15, tmp; \
	VPADDB  tmp, dst, dst

TEXT ·dot1x4AVX2(SB), NOSPLIT, $0-48
	MOVQ    code+0(FP), SI
	MOVQ    qp+8(FP), DI
	MOVQ    stride+16(FP), R8
	MOVQ    chunks+24(FP), CX
	LEAQ    (DI)(R8*1), R9
	LEAQ    (R9)(R8*1), R10
	LEAQ    (R10)(R8*1), R11
	VMOVDQU nibblePopcnt<>(SB), Y15
	VMOVDQU lowNibbles<>(SB), Y14
	VPXOR   Y13, Y13, Y13
	VPXOR   Y12, Y12, Y12
	VPXOR   Y11, Y11, Y11

loop:
	TESTQ   CX, CX
	JZ      done
	VMOVDQU (SI), Y0
	BYTE_POPCNT(Y0, Y1, Y2)
	VPSADBW Y13, Y1, Y1
	VPADDQ  Y1, Y11, Y11
	VPAND   (R11), Y0, Y1
	BYTE_POPCNT(Y1, Y3, Y2)
	VPADDB  Y3, Y3, Y3
	VPAND   (R10), Y0, Y1
	BYTE_POPCNT(Y1, Y4, Y2)
	VPADDB  Y4, Y3, Y3
	VPADDB  Y3, Y3, Y3
	VPAND   (R9), Y0, Y1
	BYTE_POPCNT(Y1, Y4, Y2)
	VPADDB  Y4, Y3, Y3
	VPADDB  Y3, Y3, Y3
	VPAND   (DI), Y0, Y1
	BYTE_POPCNT(Y1, Y4, Y2)
	VPADDB  Y4, Y3, Y3
	VPSADBW Y13, Y3, Y3
	VPADDQ  Y3, Y12, Y12
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	DECQ    CX
	JMP     loop

done:
	VEXTRACTI128 $1, Y12, X0
	VPADDQ       X0, X12, X12
	VPSHUFD      $0x4e, X12, X0
	VPADDQ       X0, X12, X12
	VMOVQ        X12, AX
	MOVQ         AX, ip+32(FP)
	VEXTRACTI128 $1, Y11, X0
	VPADDQ       X0, X11, X11
	VPSHUFD      $0x4e, X11, X0
	VPADDQ       X0, X11, X11
	VMOVQ        X11, AX
	MOVQ         AX, pc+40(FP)
	VZEROUPPER
	RET
