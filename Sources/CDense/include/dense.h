#ifndef MILLSTREAM_DENSE_H
#define MILLSTREAM_DENSE_H

#include <stddef.h>

// One sample through a dense layer: y[u] = bias[u] + sum over i of x[i] * kernel[i * units + u] (the kernel inputs x
// units, row-major, as Keras keeps it), with AVX2 and FMA. Call only when millstream_dense_avx2_fma() says the CPU
// has them.
void millstream_dense_row_avx2_fma(const float *x, size_t inputs, const float *kernel, const float *bias,
                                   size_t units, float *y);

// Whether this CPU runs millstream_dense_row_avx2_fma (x86-64 with AVX2 and FMA; 0 elsewhere).
int millstream_dense_avx2_fma(void);

#endif
