//go:build linux && cgo
// The nsenter constructor: see nsenter.go. Format of _BERTH_NSENTER:
//   "<syncfd>;<unshare flags>;<fork 0|1>;<fd>:<nstype>,<fd>:<nstype>..."
// With CLONE_NEWUSER among the unshare flags the constructor asks the parent
// for the id maps ({"type":"usermap"} on syncfd) and waits for one byte 'k'.
// Errors are written to syncfd as one JSON line the runtime's parent reads.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>

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
	if (flags & CLONE_NEWUSER) {
		/* A new user namespace made after the joins (which need the host's
		 * capabilities): the parent writes its id maps, then we become its
		 * root, and the namespaces unshared below belong to it. */
		if (unshare(CLONE_NEWUSER) < 0)
			nsenter_fail("unshare(CLONE_NEWUSER)");
		char buf[64];
		int n = snprintf(buf, sizeof(buf), "{\"type\":\"usermap\",\"pid\":%d}\n", (int)getpid());
		if (write(sync_fd, buf, (size_t)n) != n)
			nsenter_fail("asking for the user namespace's id maps");
		char ack = 0;
		ssize_t r;
		do
			r = read(sync_fd, &ack, 1);
		while (r < 0 && errno == EINTR);
		if (r != 1 || ack != 'k') {
			errno = EPROTO;
			nsenter_fail("waiting for the user namespace's id maps");
		}
		if (setresgid(0, 0, 0) < 0)
			nsenter_fail("setresgid(0) in the new user namespace");
		if (setgroups(0, NULL) < 0)
			nsenter_fail("setgroups in the new user namespace");
		if (setresuid(0, 0, 0) < 0)
			nsenter_fail("setresuid(0) in the new user namespace");
		flags &= ~(unsigned long)CLONE_NEWUSER;
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
