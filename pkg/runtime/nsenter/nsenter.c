//go:build linux && cgo
// The nsenter constructor: see nsenter.go. Format of _BERTH_NSENTER:
//   "<syncfd>;<unshare flags>;<fork 0|1>;<fd>:<nstype>,<fd>:<nstype>..."
// Errors are written to syncfd as one JSON line the runtime's parent reads.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sync_fd = -1;

static void nsenter_fail(const char *what) {
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"msg\":\"nsenter: %s: %s\"}\n", what, strerror(errno));
	if (sync_fd >= 0 && n > 0) {
		ssize_t unused = write(sync_fd, buf, (size_t)n);
		(void)unused;
	}
	_exit(1);
}

void berth_nsenter(void) {
	const char *env = getenv("_BERTH_NSENTER");
	if (env == NULL || *env == '\0')
		return;
	char *end;
	sync_fd = (int)strtol(env, &end, 10);
	if (*end != ';')
		nsenter_fail("parsing _BERTH_NSENTER");
	unsigned long flags = strtoul(end + 1, &end, 10);
	if (*end != ';')
		nsenter_fail("parsing _BERTH_NSENTER");
	int dofork = (int)strtol(end + 1, &end, 10);
	if (*end != ';')
		nsenter_fail("parsing _BERTH_NSENTER");
	const char *p = end + 1;
	while (*p) {
		int fd = (int)strtol(p, &end, 10);
		if (*end != ':')
			nsenter_fail("parsing _BERTH_NSENTER");
		int type = (int)strtol(end + 1, &end, 10);
		if (setns(fd, type) < 0) {
			char what[64];
			snprintf(what, sizeof(what), "setns(fd %d, type %#x)", fd, type);
			nsenter_fail(what);
		}
		close(fd);
		p = end;
		if (*p == ',')
			p++;
	}
	if (flags != 0 && unshare((int)flags) < 0)
		nsenter_fail("unshare");
	if (dofork) {
		pid_t pid = fork();
		if (pid < 0)
			nsenter_fail("fork");
		if (pid > 0) {
			char buf[64];
			int n = snprintf(buf, sizeof(buf), "{\"type\":\"pid\",\"pid\":%d}\n", (int)pid);
			if (write(sync_fd, buf, (size_t)n) != n)
				_exit(1);
			_exit(0);
		}
	}
}
