//go:build !noasm

#include "textflag.h"

// Exact uint8 and int8 kernels for AVX2.
//
// Each 16-byte chunk of a and b is widened to sixteen int16 lanes
// (VPMOVZXBW for uint8, VPMOVSXBW for int8); VPMADDWD then multiplies lane
// pairs and adds neighbours into eight int32 lanes. For L2 the operands are
// the int16 differences, at most 255 in magnitude, so no lane or product
// overflows int16 or int32 on the way.
//
// The int32 accumulators would overflow on long inputs, so the slices are
// consumed in blocks of at most BLOCK = 65536 elements. Within a block the
// exact total is bounded by
//   L2 (uint8 or int8): 255*255*65536 = 4261478400 < 2^32
//   dot uint8:          255*255*65536 = 4261478400 < 2^32
//   dot int8:  |-128*-128|*65536      = 2^30       < 2^31
// so summing the lanes modulo 2^32 and reading the result as unsigned
// (signed for the int8 dot product) recovers the block's total exactly. The
// block totals, and the 0-15 element tail done in scalar code, are added in
// a 64-bit register, which overflows only beyond 2^47 elements, and
// converted to float32 once at the end, rounding as Go's float32(int64)
// does. The kernels are therefore exact for every length.
//
// Registers:
//   SI, DI  walk a and b
//   CX      elements left after the current block
//   DX      elements left in the current block
//   R8      64-bit running total
//   R9, R10 scratch
//   Y0-Y3, Y8-Y11 scratch, Y4-Y7 int32 accumulators

#define BLOCK 65536

// L2_CHUNK adds into acc the squared differences of the 16 bytes at off(SI)
// and off(DI), widened by the instruction widen.
#define L2_CHUNK(widen, off, t0, t1, acc) \
	widen    off(SI), t0; \
	widen    off(DI), t1; \
	VPSUBW   t1, t0, t0; \
	VPMADDWD t0, t0, t0; \
	VPADDD   t0, acc, acc

// DOT_CHUNK adds into acc the products of the 16 bytes at off(SI) and
// off(DI), widened by the instruction widen.
#define DOT_CHUNK(widen, off, t0, t1, acc) \
	widen    off(SI), t0; \
	widen    off(DI), t1; \
	VPMADDWD t1, t0, t0; \
	VPADDD   t0, acc, acc

// START_BLOCK sets DX to the size of the next block, takes it off CX, and
// clears the accumulators.
#define START_BLOCK \
	MOVQ  CX, DX; \
	CMPQ  DX, $BLOCK; \
	JBE   sized; \
	MOVQ  $BLOCK, DX; \
sized: \
	SUBQ  DX, CX; \
	VPXOR Y4, Y4, Y4; \
	VPXOR Y5, Y5, Y5; \
	VPXOR Y6, Y6, Y6; \
	VPXOR Y7, Y7, Y7

// REDUCE_BLOCK folds the int32 lanes of Y4-Y7 into the low dword of R9
// (zeroing its upper half).
#define REDUCE_BLOCK \
	VPADDD       Y5, Y4, Y4; \
	VPADDD       Y7, Y6, Y6; \
	VPADDD       Y6, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VPADDD       X5, X4, X4; \
	VPSHUFD      $0x4e, X4, X5; \
	VPADDD       X5, X4, X4; \
	VPSHUFD      $0xb1, X4, X5; \
	VPADDD       X5, X4, X4; \
	VMOVD        X4, R9

// KERNEL is the block loop shared by the four kernels; it takes a and b in
// SI and DI and their length in CX, and leaves the float32 result in X0.
// CHUNK(off, t0, t1, acc) is the vector step for 16 elements, EXTEND widens
// the block total in R9 to 64 bits, and SCALAR adds one element at (SI),
// (DI) to R8. The arguments are loaded outside the macro so that go vet can
// check their names and offsets.
#define KERNEL(CHUNK, EXTEND, SCALAR) \
	XORQ R8, R8; \
block: \
	START_BLOCK; \
	CMPQ DX, $64; \
	JB   by16; \
by64: \
	CHUNK(0, Y0, Y1, Y4); \
	CHUNK(16, Y2, Y3, Y5); \
	CHUNK(32, Y8, Y9, Y6); \
	CHUNK(48, Y10, Y11, Y7); \
	ADDQ $64, SI; \
	ADDQ $64, DI; \
	SUBQ $64, DX; \
	CMPQ DX, $64; \
	JAE  by64; \
by16: \
	CMPQ DX, $16; \
	JB   reduce; \
	CHUNK(0, Y0, Y1, Y4); \
	ADDQ $16, SI; \
	ADDQ $16, DI; \
	SUBQ $16, DX; \
	JMP  by16; \
reduce: \
	REDUCE_BLOCK; \
	EXTEND; \
	ADDQ R9, R8; \
tail: \
	TESTQ DX, DX; \
	JZ    next; \
	SCALAR; \
	INCQ  SI; \
	INCQ  DI; \
	DECQ  DX; \
	JMP   tail; \
next: \
	TESTQ CX, CX; \
	JNZ   block; \
	VZEROUPPER; \
	CVTSQ2SS R8, X0

#define L2_U8(off, t0, t1, acc) L2_CHUNK(VPMOVZXBW, off, t0, t1, acc)
#define L2_I8(off, t0, t1, acc) L2_CHUNK(VPMOVSXBW, off, t0, t1, acc)
#define DOT_U8(off, t0, t1, acc) DOT_CHUNK(VPMOVZXBW, off, t0, t1, acc)
#define DOT_I8(off, t0, t1, acc) DOT_CHUNK(VPMOVSXBW, off, t0, t1, acc)

// The block total is already zero-extended by REDUCE_BLOCK.
#define UNSIGNED

#define SIGNED MOVLQSX R9, R9

// The scalar steps compute in 32 bits (MOVBLZX, MOVBLSX and IMULL zero the
// upper half of the register) and add the 64-bit result to R8.
#define L2_U8_SCALAR \
	MOVBLZX (SI), R9; \
	MOVBLZX (DI), R10; \
	SUBL    R10, R9; \
	IMULL   R9, R9; \
	ADDQ    R9, R8

#define L2_I8_SCALAR \
	MOVBLSX (SI), R9; \
	MOVBLSX (DI), R10; \
	SUBL    R10, R9; \
	IMULL   R9, R9; \
	ADDQ    R9, R8

#define DOT_U8_SCALAR \
	MOVBLZX (SI), R9; \
	MOVBLZX (DI), R10; \
	IMULL   R10, R9; \
	ADDQ    R9, R8

#define DOT_I8_SCALAR \
	MOVBLSX (SI), R9; \
	MOVBLSX (DI), R10; \
	IMULL   R10, R9; \
	MOVLQSX R9, R9; \
	ADDQ    R9, R8

// func l2SquaredU8AVX2(a, b []uint8) float32
TEXT ·l2SquaredU8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	KERNEL(L2_U8, UNSIGNED, L2_U8_SCALAR)
	MOVSS X0, ret+48(FP)
	RET

// func dotU8AVX2(a, b []uint8) float32
TEXT ·dotU8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	KERNEL(DOT_U8, UNSIGNED, DOT_U8_SCALAR)
	MOVSS X0, ret+48(FP)
	RET

// func l2SquaredI8AVX2(a, b []int8) float32
TEXT ·l2SquaredI8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	KERNEL(L2_I8, UNSIGNED, L2_I8_SCALAR)
	MOVSS X0, ret+48(FP)
	RET

// func dotI8AVX2(a, b []int8) float32
TEXT ·dotI8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	KERNEL(DOT_I8, SIGNED, DOT_I8_SCALAR)
	MOVSS X0, ret+48(FP)
	RET
