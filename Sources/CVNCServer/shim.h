// LibVNCServer (Debian's libvncserver-dev) for the seat's VNC helper, and the
// XTEST extension through libxcb (libxcb-xtest0-dev) to inject the controller's
// keys and pointer.
#ifndef VIGIE_CVNCSERVER_SHIM_H
#define VIGIE_CVNCSERVER_SHIM_H

#include <rfb/rfb.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

/// The XTEST extension descriptor, as a pointer: Swift 6 refuses direct access
/// to a mutable C global.
static inline xcb_extension_t *cvnc_xtest_extension(void) { return &xcb_test_id; }

/// The password list LibVNCServer checks a client's VNC authentication against
/// (rfbCheckPasswordByList): one password, then NULL.
static inline void cvnc_set_password(rfbScreenInfoPtr screen, char **list) {
    screen->authPasswdData = (void *)list;
    screen->passwordCheck = rfbCheckPasswordByList;
}

/// rfbInitServer is a macro naming the build's variant (threads, ZRLE): a
/// function Swift can call.
static inline void cvnc_init_server(rfbScreenInfoPtr screen) { rfbInitServer(screen); }

#endif
