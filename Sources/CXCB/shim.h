// Headers of libxcb and its MIT-SHM extension, plus the System V shared
// memory calls the capture path needs. No C of ours beyond tiny accessors.
#ifndef VIGIE_CXCB_SHIM_H
#define VIGIE_CXCB_SHIM_H

#include <sys/ipc.h>
#include <sys/shm.h>
#include <xcb/xcb.h>
#include <xcb/xproto.h>
#include <xcb/shm.h>

/// The MIT-SHM extension descriptor, as a pointer: Swift 6 refuses direct
/// access to a mutable C global.
static inline xcb_extension_t *cxcb_shm_extension(void) { return &xcb_shm_id; }

/// `IPC_PRIVATE` is a cast macro that Swift does not import.
static inline key_t cxcb_ipc_private(void) { return IPC_PRIVATE; }

#endif
