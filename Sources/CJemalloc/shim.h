#include <stddef.h>
// jemalloc's control interface (Debian libjemalloc-dev). Only this is declared: jemalloc.h redeclares malloc and
// free, which the C library's module already declares.
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
