// The X DAMAGE extension through libxcb: a live view learns that the screen
// changed without capturing it. Linked by the agent only (not vigie-ui).
#ifndef VIGIE_CXCB_DAMAGE_SHIM_H
#define VIGIE_CXCB_DAMAGE_SHIM_H

#include <xcb/xcb.h>
#include <xcb/damage.h>

/// The DAMAGE extension descriptor, as a pointer: Swift 6 refuses direct
/// access to a mutable C global.
static inline xcb_extension_t *cxcb_damage_extension(void) { return &xcb_damage_id; }

#endif
