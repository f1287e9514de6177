#ifndef SIGHTLINE_CZSTD_SHIM_H
#define SIGHTLINE_CZSTD_SHIM_H
#include <zstd.h>
#endif
