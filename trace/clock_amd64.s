#include "textflag.h"

// func rdtsc() int64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func prefetchSpan(p unsafe.Pointer)
TEXT ·prefetchSpan(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	PREFETCHT0	0(AX)
	PREFETCHT0	64(AX)
	PREFETCHT0	128(AX)
	PREFETCHT0	192(AX)
	RET
