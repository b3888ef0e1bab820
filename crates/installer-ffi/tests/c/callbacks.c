/* What a progress callback may call, from C (docs/c-abi.md, Threads): on its own context only
 * installer_ctx_cancel (the rest is refused, the install going on); on another context
 * anything, an install, verify, uninstall and probe included.
 *
 *   callbacks WORKDIR WHEEL OTHER_WHEEL
 *
 * WORKDIR: an empty writable directory (a cache and venvs go there, made by the installs with
 * python3 from PATH). WHEEL and OTHER_WHEEL: wheels of two distributions, the second called
 * "fixture_data". A call that never returns (a deadlock) ends the program by SIGALRM.
 * Prints one line per check ("ok - ..." or "FAIL - ..."); exits 0 only if all pass.
 * Compiled and run by tests/c_abi.rs. */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "installer.h"
#include "check.h"

static void path(char *out, size_t size, const char *dir, const char *name) {
  if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size) {
    fprintf(stderr, "path too long: %s/%s\n", dir, name);
    exit(2);
  }
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* What the callback does, once, at the first progress call that finds files placed and more
   to come: the install is then running on its worker threads, the callback on one of them. */
enum action { CALL_OWN, CALL_OTHER, CANCEL_OWN };

struct state {
  enum action action;
  installer_ctx *own;
  installer_ctx *other;
  const char *other_venv;
  const char *other_wheel;
  int done;
};

static void on_progress(void *user_data, uint64_t done, uint64_t total) {
  struct state *s = user_data;
  if (s->done || done == 0 || done >= total) {
    return;
  }
  s->done = 1;
  switch (s->action) {
  case CALL_OWN: {
    const char *wheels[] = {s->other_wheel};
    check(installer_ctx_set_jobs(s->own, 1) == INSTALLER_ERR_INVALID_ARGUMENT,
          "in a callback, set_jobs on its own context is refused", NULL);
    check(installer_install(s->own, s->other_venv, wheels, 1) == INSTALLER_ERR_INVALID_ARGUMENT,
          "in a callback, install on its own context is refused", NULL);
    check(installer_last_error(s->own)[0] == '\0',
          "in a callback, last_error of its own context is \"\"", NULL);
    installer_ctx_free(s->own); /* ignored: the install holds the context */
    break;
  }
  case CALL_OTHER: {
    const char *wheels[] = {s->other_wheel};
    const char *names[] = {"fixture_data"};
    const char *mode = NULL;
    printf("# calling into another context from a callback\n");
    fflush(stdout);
    check(installer_install(s->other, s->other_venv, wheels, 1) == INSTALLER_OK,
          "in a callback, install on another context", s->other);
    check(installer_verify(s->other, s->other_venv) == INSTALLER_OK,
          "in a callback, verify on another context", s->other);
    check(installer_probe_link_mode(s->other, s->other_venv, &mode) == INSTALLER_OK,
          "in a callback, probe on another context", s->other);
    check(installer_uninstall(s->other, s->other_venv, names, 1) == INSTALLER_OK,
          "in a callback, uninstall on another context", s->other);
    break;
  }
  case CANCEL_OWN:
    check(installer_ctx_cancel(s->own) == INSTALLER_OK, "in a callback, cancel its own context",
          NULL);
    break;
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s WORKDIR WHEEL OTHER_WHEEL\n", argv[0]);
    return 2;
  }
  alarm(120);
  const char *workdir = argv[1], *wheel = argv[2], *other_wheel = argv[3];
  char cache[4096], venv_own[4096], venv_other[4096], venv_cancelled[4096], venv_after[4096];
  path(cache, sizeof cache, workdir, "cache");
  path(venv_own, sizeof venv_own, workdir, "own");
  path(venv_other, sizeof venv_other, workdir, "other");
  path(venv_cancelled, sizeof venv_cancelled, workdir, "cancelled");
  path(venv_after, sizeof venv_after, workdir, "after");

  installer_ctx *own = NULL, *other = NULL;
  if (installer_ctx_new(cache, &own) != INSTALLER_OK || installer_ctx_new(cache, &other) != INSTALLER_OK) {
    fprintf(stderr, "installer_ctx_new failed\n");
    return 1;
  }
  check(installer_ctx_set_jobs(own, 2) == INSTALLER_OK, "set_jobs 2", own);
  const char *wheels[] = {wheel};
  struct state s = {CALL_OWN, own, other, venv_other, other_wheel, 0};
  check(installer_ctx_set_progress_callback(own, on_progress, &s) == INSTALLER_OK,
        "set_progress_callback", own);

  /* Its own context: refused, and the install goes on. */
  check(installer_install(own, venv_own, wheels, 1) == INSTALLER_OK,
        "the install whose callback called into its own context succeeds", own);
  check(s.done, "the callback ran", NULL);

  /* Another context: every call works, in the same cache, for another venv. */
  s = (struct state){CALL_OTHER, own, other, venv_other, other_wheel, 0};
  check(installer_uninstall(own, venv_own, (const char *[]){"fixture_pkg"}, 1) == INSTALLER_OK,
        "uninstall (its callback calls into another context)", own);
  s = (struct state){CALL_OTHER, own, other, venv_other, other_wheel, 0};
  check(installer_install(own, venv_own, wheels, 1) == INSTALLER_OK,
        "install (its callback calls into another context)", own);
  check(s.done, "the callback ran", NULL);

  /* Cancel from the callback: the install stops, the venv it would have made is not there. */
  s = (struct state){CANCEL_OWN, own, other, venv_other, other_wheel, 0};
  check(installer_install(own, venv_cancelled, wheels, 1) == INSTALLER_ERR_CANCELLED,
        "an install cancelled from its callback returns INSTALLER_ERR_CANCELLED", own);
  check(!exists(venv_cancelled), "and the venv it created is gone", own);
  /* And an uninstall: every file back. */
  s = (struct state){CANCEL_OWN, own, other, venv_other, other_wheel, 0};
  check(installer_uninstall(own, venv_own, (const char *[]){"fixture_pkg"}, 1) == INSTALLER_ERR_CANCELLED,
        "an uninstall cancelled from its callback returns INSTALLER_ERR_CANCELLED", own);
  check(s.done, "the callback ran", NULL);
  check(installer_verify(own, venv_own) == INSTALLER_OK, "and the venv verifies, every file there", own);
  check(installer_uninstall(own, venv_own, (const char *[]){"fixture_pkg"}, 1) == INSTALLER_OK,
        "and the distribution is still there to uninstall", own);
  check(installer_ctx_set_progress_callback(own, NULL, NULL) == INSTALLER_OK,
        "remove the progress callback", own);
  check(installer_install(own, venv_after, wheels, 1) == INSTALLER_OK,
        "the next install on the context succeeds", own);

  installer_ctx_free(other);
  installer_ctx_free(own);
  printf("%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
