// The only C surface of OpenBLAS that instructrec uses: CBLAS sgemm plus the
// OpenBLAS extensions that report and set its threading and core type.
// Debian's libopenblas-dev installs cblas.h (via alternatives) under
// /usr/include/x86_64-linux-gnu; pkg-config `openblas` adds its own include dir.
#include <cblas.h>
