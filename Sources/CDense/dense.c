// A dense layer for one sample with AVX2 and FMA, chosen at run time. Millstream's builds target baseline x86-64,
// where Swift's SIMD8<Float> becomes two SSE halves and separate multiplies and adds; Swift has no per-function CPU
// target, so the wide form is written here, as the CRC32C target does for SSE4.2.
#include "dense.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) void millstream_dense_row_avx2_fma(const float *x, size_t inputs,
                                                                       const float *kernel, const float *bias,
                                                                       size_t units, float *y) {
    size_t u = 0;
    // 64 units at a time: eight accumulators of eight, each input's row read once per block.
    for (; u + 64 <= units; u += 64) {
        __m256 s0 = _mm256_loadu_ps(bias + u), s1 = _mm256_loadu_ps(bias + u + 8);
        __m256 s2 = _mm256_loadu_ps(bias + u + 16), s3 = _mm256_loadu_ps(bias + u + 24);
        __m256 s4 = _mm256_loadu_ps(bias + u + 32), s5 = _mm256_loadu_ps(bias + u + 40);
        __m256 s6 = _mm256_loadu_ps(bias + u + 48), s7 = _mm256_loadu_ps(bias + u + 56);
        for (size_t i = 0; i < inputs; i++) {
            const __m256 xi = _mm256_broadcast_ss(x + i);
            const float *row = kernel + i * units + u;
            s0 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row), s0);
            s1 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 8), s1);
            s2 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 16), s2);
            s3 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 24), s3);
            s4 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 32), s4);
            s5 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 40), s5);
            s6 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 48), s6);
            s7 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 56), s7);
        }
        _mm256_storeu_ps(y + u, s0);
        _mm256_storeu_ps(y + u + 8, s1);
        _mm256_storeu_ps(y + u + 16, s2);
        _mm256_storeu_ps(y + u + 24, s3);
        _mm256_storeu_ps(y + u + 32, s4);
        _mm256_storeu_ps(y + u + 40, s5);
        _mm256_storeu_ps(y + u + 48, s6);
        _mm256_storeu_ps(y + u + 56, s7);
    }
    for (; u + 8 <= units; u += 8) {
        __m256 s = _mm256_loadu_ps(bias + u);
        for (size_t i = 0; i < inputs; i++) {
            s = _mm256_fmadd_ps(_mm256_broadcast_ss(x + i), _mm256_loadu_ps(kernel + i * units + u), s);
        }
        _mm256_storeu_ps(y + u, s);
    }
    // The last units (a sigmoid output's one), one at a time.
    for (; u < units; u++) {
        float sum = bias[u];
        for (size_t i = 0; i < inputs; i++) sum = __builtin_fmaf(x[i], kernel[i * units + u], sum);
        y[u] = sum;
    }
}

int millstream_dense_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}
#else
void millstream_dense_row_avx2_fma(const float *x, size_t inputs, const float *kernel, const float *bias,
                                   size_t units, float *y) {
    (void)x, (void)inputs, (void)kernel, (void)bias, (void)units, (void)y;
}

int millstream_dense_avx2_fma(void) { return 0; }
#endif
