#ifndef SIGHTLINE_CLZ4_SHIM_H
#define SIGHTLINE_CLZ4_SHIM_H
#include <lz4.h>
#endif
