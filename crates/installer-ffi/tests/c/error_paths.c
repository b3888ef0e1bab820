/* Checks the error paths of the C ABI from C: status codes, last errors, untouched outputs.
 *
 *   error_paths WORKDIR VENV [HOSTILE_WHEEL]
 *
 * WORKDIR: an empty writable directory (cache and scratch files go there). VENV: an existing
 * virtual environment in which nothing called "definitely-not-installed" is installed.
 * HOSTILE_WHEEL: a wheel with a member left out of RECORD whose name is "hostile/x", ESC "[2J",
 * CR "y", LF "z.py": its last error must show them escaped.
 * Prints one line per check ("ok - ..." or "FAIL - ..."); exits 0 only if all pass.
 * Compiled and run by tests/c_abi.rs; also run under valgrind (see its docs). */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "installer.h"
#include "check.h"

/* The call returned `want`, and the last error is non-empty exactly when it is not OK. */
static void check_status(installer_ctx *ctx, installer_status got, installer_status want,
                         const char *name) {
  const char *err = installer_last_error(ctx);
  int err_ok = want == INSTALLER_OK ? err[0] == '\0' : err[0] != '\0';
  if (got != want || !err_ok) {
    failures++;
    printf("FAIL - %s: status %u (%s), want %u (%s); last error: \"%s\"\n", name, (unsigned)got,
           installer_status_message(got), (unsigned)want, installer_status_message(want), err);
  } else {
    printf("ok - %s%s%s\n", name, err[0] ? ": " : "", err);
  }
}

static void check_mentions(installer_ctx *ctx, const char *needle, const char *name) {
  check(strstr(installer_last_error(ctx), needle) != NULL, name, ctx);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s WORKDIR VENV [HOSTILE_WHEEL]\n", argv[0]);
    return 2;
  }
  const char *workdir = argv[1];
  const char *venv = argv[2];
  char cache_dir[4096], corrupt[4096], missing_venv[4096];
  snprintf(cache_dir, sizeof cache_dir, "%s/cache", workdir);
  snprintf(corrupt, sizeof corrupt, "%s/corrupt-1.0-py3-none-any.whl", workdir);
  snprintf(missing_venv, sizeof missing_venv, "%s/no-such-venv", workdir);
  const char *bad_utf8 = "\xff\xfe.whl";

  /* Statics, no context. */
  check(installer_version() != NULL && installer_version()[0] != '\0', "version is non-empty", NULL);
  check(strcmp(installer_status_message(INSTALLER_ERR_INVALID_ARGUMENT), "invalid argument") == 0,
        "status message of INVALID_ARGUMENT", NULL);
  check(strcmp(installer_status_message(1234), "unknown status") == 0,
        "status message of an unknown number", NULL);
  check(installer_last_error(NULL) != NULL && installer_last_error(NULL)[0] == '\0',
        "last error of NULL ctx is \"\"", NULL);
  installer_ctx_free(NULL);
  check(1, "ctx_free(NULL) is a no-op", NULL);

  /* Context creation: out written only on success. */
  installer_ctx *sentinel = (installer_ctx *)(void *)&failures;
  installer_ctx *ctx = sentinel;
  check(installer_ctx_new(cache_dir, NULL) == INSTALLER_ERR_INVALID_ARGUMENT,
        "ctx_new with NULL out", NULL);
  check(installer_ctx_new(bad_utf8, &ctx) == INSTALLER_ERR_INVALID_ARGUMENT && ctx == sentinel,
        "ctx_new with non-UTF-8 cache dir leaves out untouched", NULL);
  check(installer_ctx_new("", &ctx) == INSTALLER_ERR_INVALID_ARGUMENT && ctx == sentinel,
        "ctx_new with empty cache dir", NULL);
  if (installer_ctx_new(cache_dir, &ctx) != INSTALLER_OK || ctx == sentinel || ctx == NULL) {
    printf("FAIL - ctx_new\n");
    return 1;
  }
  check(installer_last_error(ctx)[0] == '\0', "fresh ctx has no last error", ctx);

  /* NULL ctx. */
  const char *wheel_list[] = {corrupt};
  const char *mode = "untouched";
  check(installer_ctx_set_link_mode(NULL, "copy") == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_link_mode with NULL ctx", NULL);
  check(installer_ctx_set_jobs(NULL, 1) == INSTALLER_ERR_INVALID_ARGUMENT, "set_jobs with NULL ctx",
        NULL);
  check(installer_ctx_set_compile(NULL, true) == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_compile with NULL ctx", NULL);
  check(installer_ctx_set_ignore_requires_python(NULL, true) == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_ignore_requires_python with NULL ctx", NULL);
  check(installer_ctx_set_progress_callback(NULL, NULL, NULL) == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_progress_callback with NULL ctx", NULL);
  check(installer_ctx_set_warning_callback(NULL, NULL, NULL) == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_warning_callback with NULL ctx", NULL);
  check(installer_ctx_set_link_fallback(NULL, "quiet") == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_link_fallback with NULL ctx", NULL);
  check(installer_ctx_cancel(NULL) == INSTALLER_ERR_INVALID_ARGUMENT, "cancel with NULL ctx", NULL);
  check(installer_install(NULL, venv, wheel_list, 1) == INSTALLER_ERR_INVALID_ARGUMENT,
        "install with NULL ctx", NULL);
  check(installer_uninstall(NULL, venv, wheel_list, 1) == INSTALLER_ERR_INVALID_ARGUMENT,
        "uninstall with NULL ctx", NULL);
  check(installer_probe_link_mode(NULL, venv, &mode) == INSTALLER_ERR_INVALID_ARGUMENT,
        "probe with NULL ctx", NULL);

  /* Settings. */
  check_status(ctx, installer_ctx_set_link_mode(ctx, NULL), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_link_mode NULL");
  check_status(ctx, installer_ctx_set_link_mode(ctx, "bogus"), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_link_mode \"bogus\"");
  check_mentions(ctx, "bogus", "its last error names the value");
  check_status(ctx, installer_ctx_set_link_mode(ctx, "reflink"), INSTALLER_OK,
               "set_link_mode \"reflink\" (alias) clears the last error");
  check_status(ctx, installer_ctx_set_link_mode(ctx, bad_utf8), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_link_mode with invalid UTF-8");
  check_status(ctx, installer_ctx_set_link_fallback(ctx, NULL), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_link_fallback NULL");
  check_status(ctx, installer_ctx_set_link_fallback(ctx, bad_utf8), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_link_fallback with invalid UTF-8");
  /* NULL callbacks remove them (with or without user data); that is not an error. */
  check_status(ctx, installer_ctx_set_progress_callback(ctx, NULL, &failures), INSTALLER_OK,
               "set_progress_callback NULL");
  check_status(ctx, installer_ctx_set_warning_callback(ctx, NULL, NULL), INSTALLER_OK,
               "set_warning_callback NULL");
  check_status(ctx, installer_ctx_set_link_fallback(ctx, "sometimes"),
               INSTALLER_ERR_INVALID_ARGUMENT, "set_link_fallback \"sometimes\"");
  check_status(ctx, installer_ctx_set_link_fallback(ctx, "quiet"), INSTALLER_OK,
               "set_link_fallback \"quiet\"");
  check_status(ctx, installer_ctx_set_jobs(ctx, 0), INSTALLER_ERR_INVALID_ARGUMENT, "set_jobs 0");
  /* -1 ("the default", in many C APIs) is UINT32_MAX threads: refused, not started at the next
     install. */
  check_status(ctx, installer_ctx_set_jobs(ctx, (uint32_t)-1), INSTALLER_ERR_INVALID_ARGUMENT,
               "set_jobs (uint32_t)-1");
  check_mentions(ctx, "1024", "its last error says the most");
  check_status(ctx, installer_ctx_set_jobs(ctx, 1025), INSTALLER_ERR_INVALID_ARGUMENT, "set_jobs 1025");
  check_status(ctx, installer_ctx_set_jobs(ctx, 1024), INSTALLER_OK, "set_jobs 1024");
  check_status(ctx, installer_ctx_set_jobs(ctx, 2), INSTALLER_OK, "set_jobs 2");
  check_status(ctx, installer_ctx_set_link_mode(ctx, "copy"), INSTALLER_OK, "set_link_mode \"copy\"");

  /* Install / uninstall / probe arguments. */
  const char *null_wheel[] = {NULL};
  const char *bad_wheel[] = {bad_utf8};
  check_status(ctx, installer_install(ctx, NULL, wheel_list, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with NULL venv");
  check_status(ctx, installer_install(ctx, venv, NULL, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with NULL wheel array");
  check_status(ctx, installer_install(ctx, venv, null_wheel, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with a NULL wheel");
  check_status(ctx, installer_install(ctx, venv, bad_wheel, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with a non-UTF-8 wheel path");
  check_status(ctx, installer_uninstall(ctx, venv, null_wheel, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "uninstall with a NULL name");
  check_status(ctx, installer_uninstall(ctx, NULL, wheel_list, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "uninstall with NULL venv");
  check_status(ctx, installer_uninstall(ctx, venv, NULL, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "uninstall with NULL name array");
  check_status(ctx, installer_uninstall(ctx, venv, bad_wheel, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "uninstall with a non-UTF-8 name");
  check_status(ctx, installer_install(ctx, "", wheel_list, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with an empty venv path");
  check_status(ctx, installer_verify(ctx, bad_utf8), INSTALLER_ERR_INVALID_ARGUMENT,
               "verify with a non-UTF-8 venv");
  /* Empty strings name no file and no distribution. */
  const char *empty[] = {""};
  check_status(ctx, installer_install(ctx, venv, empty, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "install with an empty wheel path");
  check_status(ctx, installer_uninstall(ctx, venv, empty, 1), INSTALLER_ERR_INVALID_ARGUMENT,
               "uninstall with an empty name");
  check_mentions(ctx, "element 0: empty", "its last error names the element");
  /* Zero names: nothing asked, nothing removed (as zero wheels install nothing). */
  check_status(ctx, installer_uninstall(ctx, venv, NULL, 0), INSTALLER_OK,
               "uninstall of zero names (a NULL array)");
  check_status(ctx, installer_uninstall(ctx, missing_venv, NULL, 0), INSTALLER_ERR_IO,
               "uninstall of zero names from a missing venv");
  check_status(ctx, installer_install(ctx, venv, NULL, 0), INSTALLER_OK,
               "install of zero wheels (a NULL array)");
  /* A count no array can have: a negative number (an error code, an unsigned subtraction gone
     below zero) passed as the length. Refused before the array is read. */
  check_status(ctx, installer_install(ctx, venv, wheel_list, (size_t)-1),
               INSTALLER_ERR_INVALID_ARGUMENT, "install with n_wheels (size_t)-1");
  check_status(ctx, installer_uninstall(ctx, venv, null_wheel, SIZE_MAX / sizeof(char *) + 1),
               INSTALLER_ERR_INVALID_ARGUMENT, "uninstall with n_names beyond any array");
  check_status(ctx, installer_probe_link_mode(ctx, venv, NULL), INSTALLER_ERR_INVALID_ARGUMENT,
               "probe with NULL mode_out");
  check_status(ctx, installer_probe_link_mode(ctx, NULL, &mode), INSTALLER_ERR_INVALID_ARGUMENT,
               "probe with NULL venv");
  check(strcmp(mode, "untouched") == 0, "probe failure leaves mode_out untouched", ctx);

  /* Engine errors. */
  FILE *f = fopen(corrupt, "wb");
  if (f == NULL || fputs("this is not a zip archive\n", f) == EOF || fclose(f) != 0) {
    printf("FAIL - cannot write %s\n", corrupt);
    return 1;
  }
  check_status(ctx, installer_install(ctx, venv, wheel_list, 1), INSTALLER_ERR_WHEEL,
               "install of a corrupt wheel");
  check_mentions(ctx, "corrupt-1.0-py3-none-any.whl", "its last error names the file");

  if (argc == 4) {
    /* A name from the archive can neither break the one line nor reach a terminal raw. */
    const char *hostile[] = {argv[3]};
    check_status(ctx, installer_install(ctx, venv, hostile, 1), INSTALLER_ERR_WHEEL,
                 "install of a wheel with control characters in a member's name");
    const char *err = installer_last_error(ctx);
    int raw = 0;
    for (const char *c = err; *c != '\0'; c++) {
      raw |= (unsigned char)*c < 0x20 || *c == 0x7f;
    }
    check(!raw, "its last error holds no control character", ctx);
    check_mentions(ctx, "hostile/x\\u{1b}[2J\\ry\\nz.py",
                   "and shows the name escaped, as the CLI does");
  }

  const char *unknown[] = {"definitely-not-installed"};
  check_status(ctx, installer_uninstall(ctx, venv, unknown, 1), INSTALLER_ERR_NOT_INSTALLED,
               "uninstall of an unknown name");
  check_mentions(ctx, "definitely-not-installed", "its last error names the name");
  check_status(ctx, installer_uninstall(ctx, missing_venv, unknown, 1), INSTALLER_ERR_IO,
               "uninstall from a missing venv");

  check_status(ctx, installer_verify(ctx, venv), INSTALLER_OK, "verify of a venv where nothing differs");
  check_status(ctx, installer_verify(ctx, missing_venv), INSTALLER_ERR_IO, "verify of a missing venv");
  check_status(ctx, installer_verify(ctx, NULL), INSTALLER_ERR_INVALID_ARGUMENT, "verify of a NULL venv");
  check(installer_verify(NULL, venv) == INSTALLER_ERR_INVALID_ARGUMENT, "verify with NULL ctx", NULL);
  check_status(ctx, installer_probe_link_mode(ctx, missing_venv, &mode), INSTALLER_OK,
               "probe of a venv that does not exist yet");
  check(strcmp(mode, "clone") == 0 || strcmp(mode, "hardlink") == 0 || strcmp(mode, "copy") == 0,
        "probe gives clone, hardlink or copy", ctx);

  installer_ctx_free(ctx);

  /* A relative cache_dir is resolved at once, against a current directory that was removed:
     INSTALLER_ERR_IO, out untouched. Last, since it leaves this process without a directory. */
  char gone[4096];
  snprintf(gone, sizeof gone, "%s/gone", workdir);
  if (mkdir(gone, 0700) != 0 || chdir(gone) != 0 || rmdir(gone) != 0) {
    printf("FAIL - cannot make and remove the current directory %s\n", gone);
    return 1;
  }
  ctx = sentinel;
  check(installer_ctx_new("cache", &ctx) == INSTALLER_ERR_IO && ctx == sentinel,
        "ctx_new with a relative cache dir and no current directory", NULL);

  printf("%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
