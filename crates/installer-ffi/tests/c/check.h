/* The checks the C test programs share: one line per check ("ok - ..." or "FAIL - ...",
 * with the context's last error), and a count of the failures for the exit status. Included by
 * each program (one translation unit each), so both are static. */

#ifndef INSTALLER_TEST_CHECK_H
#define INSTALLER_TEST_CHECK_H

#include <stdio.h>

#include "installer.h"

static int failures = 0;

/* Records `what` as passed when `ok`; `ctx` may be NULL (no last error to show). Flushed at
 * once: a program may be killed by its own alarm (a hang), and what it checked must show. */
static void check(int ok, const char *what, installer_ctx *ctx) {
  if (ok) {
    printf("ok - %s\n", what);
  } else {
    failures++;
    printf("FAIL - %s (last error: \"%s\")\n", what, ctx ? installer_last_error(ctx) : "");
  }
  fflush(stdout);
}

#endif
