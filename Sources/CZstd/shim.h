#ifndef KG_CZSTD_SHIM_H
#define KG_CZSTD_SHIM_H
#include <zstd.h>
#endif
