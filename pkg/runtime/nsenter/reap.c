//go:build linux && cgo
// The container reaper in C: see pkg/runtime/killall_linux.go. When
// _BERTH_REAP_DIRS is set (the cgroup directories of a container, one per
// line) the process waits for the pidfd on fd 3 to become readable (the
// container's init has exited), then SIGKILLs every process left in those
// cgroups and their sub-cgroups until none is left, and exits — without
// ever starting the Go runtime, so it stays small. _BERTH_REAP_ID is
// "dev:ino" of the first directory: a cgroup deleted and made anew by
// another container meanwhile is left alone.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *value) {
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t unused = write(fd, value, strlen(value));
	(void)unused;
	close(fd);
}

// kill_dir SIGKILLs the processes listed in dir/cgroup.procs and in its
// sub-cgroups; it returns how many it found.
static int kill_dir(const char *dir, int depth) {
	int found = 0;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
		return 0;
	FILE *f = fopen(path, "re");
	if (f != NULL) {
		long pid;
		while (fscanf(f, "%ld", &pid) == 1) {
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				found++;
		}
		fclose(f);
	}
	if (depth >= 16)
		return found;
	DIR *d = opendir(dir);
	if (d == NULL)
		return found;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			found += kill_dir(path, depth + 1);
	}
	closedir(d);
	return found;
}

void berth_reap(void) {
	const char *env = getenv("_BERTH_REAP_DIRS");
	if (env == NULL || *env == '\0')
		return;
	char *dirs = strdup(env);
	const char *id = getenv("_BERTH_REAP_ID");
	if (dirs == NULL || id == NULL)
		_exit(1);
	struct pollfd p = {.fd = 3, .events = POLLIN};
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	char *first_end = strchr(dirs, '\n');
	if (first_end != NULL)
		*first_end = '\0';
	struct stat st;
	char have[64];
	if (stat(dirs, &st) < 0)
		_exit(0); // gone: delete got there first
	snprintf(have, sizeof(have), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (strcmp(have, id) != 0)
		_exit(0); // not our cgroup any more
	if (first_end != NULL)
		*first_end = '\n';
	// cgroup.kill (v2, Linux 5.14) kills everything at once; the rounds
	// below get the rest on v1, thawing a frozen v1 cgroup so that the
	// killed processes can die.
	for (char *d = dirs; d != NULL && *d;) {
		char *nl = strchr(d, '\n');
		if (nl != NULL)
			*nl = '\0';
		write_file(d, "cgroup.kill", "1");
		d = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\n';
	}
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
	for (int round = 0; round < 2000; round++) { // 10 s
		int found = 0;
		for (char *d = dirs; d != NULL && *d;) {
			char *nl = strchr(d, '\n');
			if (nl != NULL)
				*nl = '\0';
			found += kill_dir(d, 0);
			write_file(d, "freezer.state", "THAWED");
			if (nl != NULL)
				*nl = '\n';
			d = nl != NULL ? nl + 1 : NULL;
		}
		if (found == 0)
			_exit(0);
		nanosleep(&pause, NULL);
	}
	_exit(1);
}
