// sd-login from libsystemd (Debian: libsystemd-dev): which session is active on
// a seat, its type, class, X display and user, and a monitor whose file
// descriptor becomes readable when logind's view of seats and sessions changes.
// Headers only: no C of ours.
#ifndef VIGIE_CSYSTEMDLOGIN_SHIM_H
#define VIGIE_CSYSTEMDLOGIN_SHIM_H

#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#endif
