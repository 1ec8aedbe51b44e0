// LibVNCServer (Debian's libvncserver-dev) for the seat's VNC helper, the
// XTEST extension through libxcb (libxcb-xtest0-dev) to inject the controller's
// keys and pointer, and XFIXES (libxcb-xfixes0-dev) for the pointer's shape and
// the clipboard's owner changes; xcbext.h for xcb_poll_for_reply (a reply
// collected without waiting).
#ifndef VIGIE_CVNCSERVER_SHIM_H
#define VIGIE_CVNCSERVER_SHIM_H

#include <arpa/inet.h>
#include <string.h>
#include <rfb/rfb.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>
#include <xcb/xtest.h>
#include <xcb/xfixes.h>

/// The XTEST extension descriptor, as a pointer: Swift 6 refuses direct access
/// to a mutable C global.
static inline xcb_extension_t *cvnc_xtest_extension(void) { return &xcb_test_id; }

/// The XFIXES extension descriptor, likewise.
static inline xcb_extension_t *cvnc_xfixes_extension(void) { return &xcb_xfixes_id; }

/// The password list LibVNCServer checks a client's VNC authentication against
/// (rfbCheckPasswordByList): one password, then NULL.
static inline void cvnc_set_password(rfbScreenInfoPtr screen, char **list) {
    screen->authPasswdData = (void *)list;
    screen->passwordCheck = rfbCheckPasswordByList;
}

/// rfbInitServer is a macro naming the build's variant (threads, ZRLE): a
/// function Swift can call.
static inline void cvnc_init_server(rfbScreenInfoPtr screen) { rfbInitServer(screen); }

/// Whether the client is past the handshake: LibVNCServer writes a
/// ServerCutText to every client, even one still authenticating, which would
/// break its protocol. (`state` is an anonymous enum Swift reads badly.)
static inline int cvnc_client_ready(rfbClientPtr client) { return client->state == RFB_NORMAL; }

/// Copied text to the viewers (those past the handshake): UTF-8 to those with
/// the extended clipboard (rfbSendServerCutTextUTF8, LibVNCServer 0.9.14 with
/// zlib), Latin-1 to the others, written here: 0.9.14's own Latin-1 fallback
/// announces the UTF-8 length and sends the Latin-1 bytes, which breaks the
/// viewer's stream as soon as the text is not ASCII (fixed in 0.9.15).
static inline void cvnc_send_cut_text(rfbScreenInfoPtr screen, char *utf8, int utf8Length,
                                      char *latin1, int latin1Length) {
    rfbBool extended = FALSE;
    rfbClientIteratorPtr clients = rfbGetClientIterator(screen);
    rfbClientPtr client;
    while ((client = rfbClientIteratorNext(clients)) != NULL) {
        if (client->state != RFB_NORMAL) continue;
#if defined(LIBVNCSERVER_HAVE_LIBZ) && defined(rfbEncodingExtendedClipboard)
        if (client->enableExtendedClipboard) {
            extended = TRUE;
            continue;
        }
#endif
        rfbServerCutTextMsg message;
        memset(&message, 0, sizeof message);
        message.type = rfbServerCutText;
        message.length = htonl((uint32_t)latin1Length);
        if (rfbWriteExact(client, (char *)&message, sz_rfbServerCutTextMsg) < 0
            || rfbWriteExact(client, latin1, latin1Length) < 0) {
            rfbCloseClient(client);
        }
    }
    rfbReleaseClientIterator(clients);
#if defined(LIBVNCSERVER_HAVE_LIBZ) && defined(rfbEncodingExtendedClipboard)
    /* No fallback: the viewers without the extension were served above. */
    if (extended) rfbSendServerCutTextUTF8(screen, utf8, utf8Length, NULL, 0);
#else
    (void)extended;
    (void)utf8;
    (void)utf8Length;
#endif
}

#endif
