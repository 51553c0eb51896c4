#include <cblas.h>
// OpenBLAS extension: threads used by GEMM (Millstream sets 1 per process by default: small matrices, 2 cores).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
