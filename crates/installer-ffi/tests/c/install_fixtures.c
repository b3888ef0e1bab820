/* Installs wheels through the C ABI, the way an embedding program would.
 *
 *   install_fixtures VENV CACHE_DIR LINK_MODE WHEEL...
 *
 * CACHE_DIR "-" means the default cache location; the link fallback is taken from the
 * environment variable INSTALLER_LINK_FALLBACK when it is set. Prints progress and warnings as
 * they come, the error on failure, and the link mode auto would use after a success. After the
 * install, installer_verify must find nothing; with bin/fixture-hello removed it must name it.
 * Exits with the installer_status of the first failing call (0 on success), 90 if progress
 * went backwards, 92 if verify missed the removed launcher, 93 if it could not be put back. Compiled and run by tests/c_abi.rs; also run under valgrind (see its docs). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "installer.h"

struct progress {
  unsigned long calls;
  uint64_t last_done;
  int went_backwards;
};

static void on_progress(void *user_data, uint64_t done, uint64_t total) {
  struct progress *p = user_data;
  if (done < p->last_done) {
    p->went_backwards = 1;
  }
  p->last_done = done;
  p->calls++;
  printf("progress: %llu/%llu\n", (unsigned long long)done, (unsigned long long)total);
}

static void on_warning(void *user_data, const char *message) {
  (void)user_data;
  printf("warning: %s\n", message);
}

static int fail(installer_ctx *ctx, const char *what, installer_status status) {
  fprintf(stderr, "error: %s: %s (status %u: %s)\n", what, installer_last_error(ctx),
          (unsigned)status, installer_status_message(status));
  installer_ctx_free(ctx);
  return (int)status;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s VENV CACHE_DIR|- LINK_MODE WHEEL...\n", argv[0]);
    return 2;
  }
  const char *venv = argv[1];
  const char *cache_dir = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
  const char *link_mode = argv[3];
  const char *const *wheels = (const char *const *)&argv[4];
  size_t n_wheels = (size_t)(argc - 4);

  printf("installer %s\n", installer_version());

  installer_ctx *ctx = NULL;
  installer_status status = installer_ctx_new(cache_dir, &ctx);
  if (status != INSTALLER_OK) {
    fprintf(stderr, "error: installer_ctx_new: %s\n", installer_status_message(status));
    return (int)status;
  }

  struct progress progress = {0, 0, 0};
  if ((status = installer_ctx_set_link_mode(ctx, link_mode)) != INSTALLER_OK) {
    return fail(ctx, "set link mode", status);
  }
  const char *fallback = getenv("INSTALLER_LINK_FALLBACK");
  if (fallback != NULL && (status = installer_ctx_set_link_fallback(ctx, fallback)) != INSTALLER_OK) {
    return fail(ctx, "set link fallback", status);
  }
  if ((status = installer_ctx_set_progress_callback(ctx, on_progress, &progress)) != INSTALLER_OK) {
    return fail(ctx, "set progress callback", status);
  }
  if ((status = installer_ctx_set_warning_callback(ctx, on_warning, NULL)) != INSTALLER_OK) {
    return fail(ctx, "set warning callback", status);
  }

  status = installer_install(ctx, venv, wheels, n_wheels);
  if (status != INSTALLER_OK) {
    return fail(ctx, "install", status);
  }
  printf("installed %zu wheel(s) into %s (%lu progress calls)\n", n_wheels, venv, progress.calls);
  if (strcmp(installer_last_error(ctx), "") != 0) {
    fprintf(stderr, "error: last error not empty after success: %s\n", installer_last_error(ctx));
    installer_ctx_free(ctx);
    return 91;
  }

  status = installer_verify(ctx, venv);
  if (status != INSTALLER_OK) {
    return fail(ctx, "verify after install", status);
  }
  /* A launcher moved away behind the installer's back: verify names it. It is put back after,
     so the environment still equals pip's (cargo xtask e2e compares them). */
  char launcher[4096], aside[4096];
  snprintf(launcher, sizeof launcher, "%s/bin/fixture-hello", venv);
  snprintf(aside, sizeof aside, "%s/fixture-hello.aside", venv);
  if (rename(launcher, aside) == 0) {
    status = installer_verify(ctx, venv);
    int named = strstr(installer_last_error(ctx), "missing bin/fixture-hello") != NULL;
    if (status == INSTALLER_ERR_VERIFY && named) {
      printf("verify: %s\n", installer_last_error(ctx));
    }
    if (rename(aside, launcher) != 0) {
      perror("put bin/fixture-hello back");
      installer_ctx_free(ctx);
      return 93;
    }
    if (status != INSTALLER_ERR_VERIFY || !named) {
      fprintf(stderr, "error: verify without bin/fixture-hello gave %u: %s\n", (unsigned)status,
              installer_last_error(ctx));
      installer_ctx_free(ctx);
      return 92;
    }
  }

  const char *mode = NULL;
  status = installer_probe_link_mode(ctx, venv, &mode);
  if (status != INSTALLER_OK) {
    return fail(ctx, "probe link mode", status);
  }
  printf("auto link mode for this venv: %s\n", mode);

  installer_ctx_free(ctx);
  if (progress.went_backwards) {
    fprintf(stderr, "error: progress went backwards\n");
    return 90;
  }
  return 0;
}
