/* Preloaded before libfaketime in the shifted-clock test run (Makefile: test-shifted-clock).
 *
 * The run shifts only the wall clock (FAKETIME_DONT_FAKE_MONOTONIC=1): shifting the monotonic
 * clock too makes libfaketime 0.9.10 turn every timed wait on a lock or event into a wait of
 * the whole shift. With the monotonic clock left alone, its clock_nanosleep wrapper still
 * rewrites absolute monotonic deadlines and fails with EINVAL, which is how CPython's
 * time.sleep() sleeps. This wrapper sends monotonic sleeps straight to the kernel (the clock
 * is real, so the deadline is too) and leaves every other clock to libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                    struct timespec *remain) {
    if (clock == CLOCK_MONOTONIC) {
        return syscall(SYS_clock_nanosleep, clock, flags, request, remain) == 0 ? 0 : errno;
    }
    int (*next)(clockid_t, int, const struct timespec *, struct timespec *) =
        (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(
            RTLD_NEXT, "clock_nanosleep");
    return next(clock, flags, request, remain);
}
