/* The thread rules of docs/c-abi.md, from C: no worker thread outlives a call; two contexts
 * install at once; a context used by a second thread while a first uses it refuses the second.
 *
 *   threads WORKDIR WHEEL_A WHEEL_B
 *
 * WORKDIR: an empty writable directory (cache and venvs go there, the venvs created by the
 * installs with python3 from PATH). WHEEL_A and WHEEL_B: wheels of two distributions; the
 * name of WHEEL_A's ("fixture_pkg") is uninstalled again.
 * Prints one line per check ("ok - ..." or "FAIL - ..."); exits 0 only if all pass.
 * Compiled and run by tests/c_abi.rs. Linux only (it counts /proc/self/task). */

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "installer.h"
#include "check.h"

static void path(char *out, size_t size, const char *dir, const char *name) {
  if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size) {
    fprintf(stderr, "path too long: %s/%s\n", dir, name);
    exit(2);
  }
}

/* The threads of this process, as the kernel lists them. */
static int count_threads(void) {
  DIR *dir = opendir("/proc/self/task");
  if (dir == NULL) {
    perror("/proc/self/task");
    exit(2);
  }
  int n = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    n += entry->d_name[0] != '.';
  }
  closedir(dir);
  return n;
}

/* Whether the process is back to `want` threads within five seconds: a worker that finished
   its work may take a moment to leave the kernel's list; one that never exits does not. */
static int threads_back_to(int want) {
  struct timespec tick = {0, 10000000};
  for (int i = 0; i < 500; i++) {
    if (count_threads() <= want) {
      return 1;
    }
    nanosleep(&tick, NULL);
  }
  printf("# %d threads, %d before the call\n", count_threads(), want);
  return 0;
}

struct job {
  installer_ctx *ctx;
  const char *venv;
  const char *wheel;
  installer_status status;
};

static void *run_install(void *arg) {
  struct job *job = arg;
  const char *wheels[] = {job->wheel};
  job->status = installer_install(job->ctx, job->venv, wheels, 1);
  return NULL;
}

/* A second thread's turn while the first is inside a progress callback of its install. */
struct meeting {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int inside;   /* the install's thread is in its callback, waiting */
  int released; /* the other thread has made its calls */
};

static void wait_inside(void *user_data, uint64_t done, uint64_t total) {
  (void)done;
  (void)total;
  struct meeting *m = user_data;
  pthread_mutex_lock(&m->lock);
  if (!m->released) {
    m->inside = 1;
    pthread_cond_broadcast(&m->changed);
    while (!m->released) {
      pthread_cond_wait(&m->changed, &m->lock);
    }
  }
  pthread_mutex_unlock(&m->lock);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s WORKDIR WHEEL_A WHEEL_B\n", argv[0]);
    return 2;
  }
  const char *workdir = argv[1], *wheel_a = argv[2], *wheel_b = argv[3];
  char cache[4096], venv_a[4096], venv_b[4096], venv_c[4096];
  path(cache, sizeof cache, workdir, "cache");
  path(venv_a, sizeof venv_a, workdir, "venv-a");
  path(venv_b, sizeof venv_b, workdir, "venv-b");
  path(venv_c, sizeof venv_c, workdir, "venv-c");

  /* No worker thread outlives a call (docs/c-abi.md, Threads), whichever the call. */
  int before = count_threads();
  installer_ctx *ctx = NULL;
  if (installer_ctx_new(cache, &ctx) != INSTALLER_OK) {
    fprintf(stderr, "installer_ctx_new failed\n");
    return 1;
  }
  check(installer_ctx_set_jobs(ctx, 3) == INSTALLER_OK, "set_jobs 3", ctx);
  const char *wheels[] = {wheel_a};
  check(installer_install(ctx, venv_a, wheels, 1) == INSTALLER_OK, "install", ctx);
  check(threads_back_to(before), "no thread outlives installer_install", NULL);
  check(installer_verify(ctx, venv_a) == INSTALLER_OK, "verify", ctx);
  check(threads_back_to(before), "no thread outlives installer_verify", NULL);
  const char *mode = NULL;
  check(installer_probe_link_mode(ctx, venv_a, &mode) == INSTALLER_OK, "probe", ctx);
  check(threads_back_to(before), "no thread outlives installer_probe_link_mode", NULL);
  const char *names[] = {"fixture_pkg"};
  check(installer_uninstall(ctx, venv_a, names, 1) == INSTALLER_OK, "uninstall", ctx);
  check(threads_back_to(before), "no thread outlives installer_uninstall", NULL);

  /* Two contexts, two threads, two venvs, one cache: both install. */
  installer_ctx *other = NULL;
  if (installer_ctx_new(cache, &other) != INSTALLER_OK) {
    fprintf(stderr, "installer_ctx_new failed\n");
    return 1;
  }
  struct job a = {ctx, venv_a, wheel_a, INSTALLER_ERR_PANIC};
  struct job b = {other, venv_b, wheel_b, INSTALLER_ERR_PANIC};
  pthread_t thread_a, thread_b;
  if (pthread_create(&thread_a, NULL, run_install, &a) != 0 ||
      pthread_create(&thread_b, NULL, run_install, &b) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  pthread_join(thread_a, NULL);
  pthread_join(thread_b, NULL);
  check(a.status == INSTALLER_OK, "first of two contexts installing at once", ctx);
  check(b.status == INSTALLER_OK, "second of two contexts installing at once", other);
  check(installer_verify(ctx, venv_a) == INSTALLER_OK, "its venv verifies", ctx);
  check(installer_verify(other, venv_b) == INSTALLER_OK, "and so does the other's", other);
  installer_ctx_free(other);

  /* One context, a second thread while the first is inside an install (held in its progress
     callback): the second thread's calls are refused and change nothing; the install goes on. */
  struct meeting m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  check(installer_ctx_set_progress_callback(ctx, wait_inside, &m) == INSTALLER_OK,
        "set_progress_callback", ctx);
  struct job held = {ctx, venv_c, wheel_a, INSTALLER_ERR_PANIC};
  if (pthread_create(&thread_a, NULL, run_install, &held) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  pthread_mutex_lock(&m.lock);
  while (!m.inside) {
    pthread_cond_wait(&m.changed, &m.lock);
  }
  pthread_mutex_unlock(&m.lock);
  check(installer_ctx_set_jobs(ctx, 1) == INSTALLER_ERR_INVALID_ARGUMENT,
        "set_jobs from a second thread is refused", NULL);
  check(installer_verify(ctx, venv_a) == INSTALLER_ERR_INVALID_ARGUMENT,
        "verify from a second thread is refused", NULL);
  check(installer_last_error(ctx)[0] == '\0', "last_error from a second thread gives \"\"", NULL);
  check(installer_ctx_cancel(NULL) == INSTALLER_ERR_INVALID_ARGUMENT, "cancel(NULL)", NULL);
  pthread_mutex_lock(&m.lock);
  m.released = 1;
  pthread_cond_broadcast(&m.changed);
  pthread_mutex_unlock(&m.lock);
  pthread_join(thread_a, NULL);
  check(held.status == INSTALLER_OK, "the first thread's install succeeds", ctx);
  check(installer_last_error(ctx)[0] == '\0', "and its last error is \"\"", ctx);
  check(installer_ctx_set_jobs(ctx, 1) == INSTALLER_OK, "the context is free again", ctx);

  installer_ctx_free(ctx);
  check(threads_back_to(before), "no thread outlives the context", NULL);
  printf("%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
