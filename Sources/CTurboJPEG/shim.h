// libjpeg-turbo's TurboJPEG API (compress, and decompress for the tests).
#ifndef VIGIE_CTURBOJPEG_SHIM_H
#define VIGIE_CTURBOJPEG_SHIM_H

#include <stddef.h>
#include <turbojpeg.h>

#endif
