// AVX-512 code outside the TFT's kernels (tft/vmath.hpp): the intrinsics, and a guard for a false
// warning. g++ 12 builds several of its AVX-512 intrinsics from _mm512_undefined_ps() and, once
// they are inlined into some functions, reports "'__Y' may be used uninitialized" (GCC bug 105593,
// fixed in g++ 13). Code between NORDIQ_AVX512_BEGIN and NORDIQ_AVX512_END is compiled with that
// warning off; every other warning stays on.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define NORDIQ_AVX512_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define NORDIQ_AVX512_END _Pragma("GCC diagnostic pop")
