// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#ifndef GPT_CBLAS_SHIM_H
#define GPT_CBLAS_SHIM_H
#include <cblas.h>

// Declared by OpenBLAS's cblas.h; repeated so the shim also builds against
// other CBLAS headers that omit them.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
