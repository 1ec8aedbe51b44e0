// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev): the live view's thumbnails.
#ifndef VIGIE_CTURBOJPEG_SHIM_H
#define VIGIE_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
