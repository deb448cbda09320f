#ifndef KG_CLIBPQ_SHIM_H
#define KG_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
