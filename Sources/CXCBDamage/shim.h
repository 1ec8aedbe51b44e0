// The X DAMAGE extension through libxcb (and XFIXES, whose regions it uses).
#ifndef VIGIE_CXCBDAMAGE_SHIM_H
#define VIGIE_CXCBDAMAGE_SHIM_H

#include <xcb/xcb.h>
#include <xcb/damage.h>

/// The DAMAGE extension descriptor, as a pointer: Swift 6 refuses direct
/// access to a mutable C global.
static inline xcb_extension_t *cxcb_damage_extension(void) { return &xcb_damage_id; }

#endif
