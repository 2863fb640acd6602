// OpenBLAS's CBLAS interface (pkg-config name "openblas"; Debian has no cblas.pc).
#include <cblas.h>
