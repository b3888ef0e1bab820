/* Cancels an install mid-way from another thread, as an embedding program's "Cancel" button
 * would, and checks that the context works again afterwards.
 *
 *   cancel_install VENV CACHE_DIR PAUSE_DIR WHEEL FRESH_VENV
 *
 * Run with INSTALLER_TEST_PAUSE=moved-aside and INSTALLER_TEST_PAUSE_DIR=PAUSE_DIR: the
 * install of WHEEL into VENV (which holds another version of it) stops at that pause point,
 * after the files it replaces were moved aside, and waits for PAUSE_DIR/moved-aside.go. This
 * program waits for PAUSE_DIR/moved-aside.reached, calls installer_ctx_cancel from the main
 * thread, then lets the install go on: it must return INSTALLER_ERR_CANCELLED. Then, on the
 * same context, installer_verify of VENV must pass and an install of WHEEL into FRESH_VENV must
 * succeed. The caller compares VENV with what it was before.
 *
 * Prints one `ok - ...` or `FAIL - ...` line per check; exits 0 when all pass, 1 otherwise,
 * 2 on bad usage. Compiled and run by tests/c_abi.rs and by `cargo xtask e2e`. */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "installer.h"
#include "check.h"

struct install_job {
  installer_ctx *ctx;
  const char *venv;
  const char *wheel;
  installer_status status;
};

static void *run_install(void *arg) {
  struct install_job *job = arg;
  const char *wheels[] = {job->wheel};
  job->status = installer_install(job->ctx, job->venv, wheels, 1);
  return NULL;
}

/* PAUSE_DIR/<name>; exits on a path too long for the buffer. */
static void pause_file(char *out, size_t size, const char *dir, const char *name) {
  if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size) {
    fprintf(stderr, "path too long: %s/%s\n", dir, name);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s VENV CACHE_DIR PAUSE_DIR WHEEL FRESH_VENV\n", argv[0]);
    return 2;
  }
  const char *venv = argv[1], *cache_dir = argv[2], *pause_dir = argv[3];
  const char *wheel = argv[4], *fresh_venv = argv[5];
  char reached[4096], go[4096];
  pause_file(reached, sizeof reached, pause_dir, "moved-aside.reached");
  pause_file(go, sizeof go, pause_dir, "moved-aside.go");

  installer_ctx *ctx = NULL;
  if (installer_ctx_new(cache_dir, &ctx) != INSTALLER_OK) {
    fprintf(stderr, "installer_ctx_new failed\n");
    return 1;
  }
  check(installer_ctx_cancel(NULL) == INSTALLER_ERR_INVALID_ARGUMENT, "cancel(NULL) is invalid", NULL);
  /* A cancel while nothing runs does not reach the next operation. */
  check(installer_ctx_cancel(ctx) == INSTALLER_OK, "cancel with no operation running", ctx);

  struct install_job job = {ctx, venv, wheel, INSTALLER_OK};
  pthread_t thread;
  if (pthread_create(&thread, NULL, run_install, &job) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  /* The install is stopped at its pause point once this file exists: a state, not a time. */
  struct timespec tick = {0, 1000000};
  while (access(reached, F_OK) != 0) {
    nanosleep(&tick, NULL);
  }
  check(installer_ctx_cancel(ctx) == INSTALLER_OK, "cancel from another thread mid-install", NULL);
  FILE *release = fopen(go, "w");
  if (release == NULL) {
    fprintf(stderr, "cannot create %s\n", go);
    return 1;
  }
  fclose(release);
  pthread_join(thread, NULL);
  printf("cancelled install: status %u (%s): %s\n", (unsigned)job.status,
         installer_status_message(job.status), installer_last_error(ctx));
  check(job.status == INSTALLER_ERR_CANCELLED, "the install returns INSTALLER_ERR_CANCELLED", ctx);
  check(strstr(installer_last_error(ctx), "cancelled") != NULL, "the last error says cancelled", ctx);

  /* The same context works again: each operation starts uncancelled. */
  check(installer_verify(ctx, venv) == INSTALLER_OK, "verify after the cancel finds the venv intact", ctx);
  const char *wheels[] = {wheel};
  check(installer_install(ctx, fresh_venv, wheels, 1) == INSTALLER_OK, "the next install on the context succeeds",
        ctx);

  installer_ctx_free(ctx);
  return failures == 0 ? 0 : 1;
}
