//go:build linux && cgo
// The container init in C: see pkg/runtime/cinit_linux.go, which computes
// the plan this file executes. When _BERTH_INIT is "cinit" the constructor,
// after nsenter has joined and created the namespaces, reads one plan from
// the sync socket (_BERTH_SYNC): a header (magic, length) and a list of
// steps, each an opcode and its arguments (64-bit numbers; strings as a
// 32-bit length, the bytes and a NUL; blobs as a length and the bytes).
// It carries the steps out in order and execve()s the container's process,
// so the Go runtime of the init never starts. Every decision (which mounts,
// flags, devices, capabilities...) is the parent's; this file only
// executes, resolving every path inside the new root the way
// pkg/runtime/resolve_linux.go does. An error is reported to the parent as
// one JSON line {"type":"error","msg":...} naming the step (on stderr once
// the sync socket is closed) and the init exits with status 1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Must match pkg/runtime/cinit_linux.go. */
#define PLAN_MAGIC 0x31494342u /* "BCI1" */
#define PLAN_MAX (1u << 20)
#define MAX_VEC 16384
#define MAX_GROUPS 65536

enum {
	OP_STEP = 1,      /* str label: names the steps that follow in errors */
	OP_UMASK,         /* num mask */
	OP_UNSHARE,       /* num flags */
	OP_KEYRING,       /* str name */
	OP_HOSTNAME,      /* str */
	OP_DOMAINNAME,    /* str */
	OP_LO_UP,         /* - */
	OP_PROPAGATE,     /* str path (in the current root), num flags */
	OP_ROOT,          /* str rootfs, num userns: bind it onto itself, hold an fd of it */
	OP_MOUNT,         /* str dest, num mk, str source, str fstype, num flags, str data */
	OP_REMOUNT,       /* str dest, num flags, num keep locked flags */
	OP_SETATTR,       /* str dest, num attr_set, num attr_clr */
	OP_PROPAGATE_IN,  /* str dest, num flags */
	OP_MKNOD,         /* str dir, str name, num mode, num dev, num uid, num gid */
	OP_SYMLINK,       /* str dir, str target, str name, num sym */
	OP_HOOKS,         /* - */
	OP_PIVOT,         /* - */
	OP_CHROOT,        /* - */
	OP_SYSCTL,        /* str path under /proc, str value */
	OP_READONLY,      /* str path */
	OP_MASK,          /* str path */
	OP_RLIMIT,        /* num resource, num soft, num hard */
	OP_OOM,           /* str value */
	OP_CHDIR,         /* str cwd */
	OP_LOOKPATH,      /* str name, str PATH */
	OP_READY,         /* - */
	OP_FIFO,          /* num fd */
	OP_CLOSE_FROM,    /* num fd */
	OP_NNP,           /* - */
	OP_SECCOMP,       /* num flags, blob program */
	OP_BOUNDING_DROP, /* num mask */
	OP_USER,          /* num uid, num gid, num n, n x num gid */
	OP_CAPS,          /* num effective, num permitted, num inheritable, num ambient */
	OP_EXEC,          /* num argc, argc x str, num envc, envc x str */
	OP_CONSOLE,       /* num socket fd, num has size, num rows, num cols, num /dev/console */
	OP_SETSID,        /* num must succeed */
	OP_ATTACH,        /* str dest, str source, num tree fd: attach an idmapped tree */
	OP_TMPCOPYUP,     /* str dest, str source, num flags, str data */
	OP_HOOK,          /* str path, num argc, argc x str, num envc, envc x str, num timeout, str state */
};

/* OP_MOUNT's mk bits. */
#define MK_BIND 1   /* source is a host path to bind */
#define MK_NOSYM 2  /* no symlink anywhere on the destination's way */
#define MK_DIR 4    /* the destination must be a directory */
#define MK_SRCDIR 8 /* the bind source must be a directory */
#define MK_SYSFS_FALLBACK 16 /* on EPERM bind the host's /sys read-only instead (user namespace) */

/* OP_SYMLINK's sym bits. */
#define SYM_IGNORE 1  /* ignore errors of symlinkat */
#define SYM_REPLACE 2 /* unlink the name first (errors ignored) */
#define SYM_NOSYM 4   /* open dir without symlinks, do not create it */

static unsigned char plan[PLAN_MAX];
static char *exec_vec[MAX_VEC];
static gid_t groups[MAX_GROUPS];
static char exec_path[PATH_MAX];
static char step[512] = "container init";
static int csync = -1;
static int root_fd = -1;
static int proc_fd = -1;

/* ---- errors ---------------------------------------------------------- */

static size_t json_escape(char *out, size_t cap, const char *s) {
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

static void write_all(int fd, const char *b, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* fail reports "<step>: <msg>" and exits: on the sync socket while the
 * parent listens, on stderr after. */
static void __attribute__((noreturn)) fail(const char *msg) {
	char text[2560], esc[5200], line[5300];
	snprintf(text, sizeof(text), "%s: %s", step, msg);
	if (csync >= 0) {
		json_escape(esc, sizeof(esc), text);
		int n = snprintf(line, sizeof(line), "{\"type\":\"error\",\"msg\":\"%s\"}\n", esc);
		if (n > 0)
			write_all(csync, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	} else {
		int n = snprintf(line, sizeof(line), "berth-runtime init: %s\n", text);
		if (n > 0)
			write_all(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	_exit(1);
}

/* failf formats a message and appends strerror(errno) when with_errno. */
static void __attribute__((noreturn, format(printf, 2, 3))) failf(int with_errno, const char *fmt, ...) {
	int saved = errno;
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(msg) - 3) {
		/* As Go spells errno ("no such file or directory"): callers such
		 * as podman match these words. */
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
		if (msg[n + 2] >= 'A' && msg[n + 2] <= 'Z')
			msg[n + 2] = (char)(msg[n + 2] - 'A' + 'a');
	}
	fail(msg);
}

/* ---- the plan -------------------------------------------------------- */

struct cur {
	const unsigned char *p;
	size_t left;
};

static void bad_plan(void) {
	errno = EPROTO;
	failf(1, "malformed plan");
}

static uint64_t num(struct cur *c) {
	uint64_t v;
	if (c->left < sizeof(v))
		bad_plan();
	memcpy(&v, c->p, sizeof(v));
	c->p += sizeof(v);
	c->left -= sizeof(v);
	return v;
}

static const unsigned char *blob(struct cur *c, uint32_t *len) {
	uint32_t n;
	if (c->left < sizeof(n))
		bad_plan();
	memcpy(&n, c->p, sizeof(n));
	c->p += sizeof(n);
	c->left -= sizeof(n);
	if (n > c->left)
		bad_plan();
	const unsigned char *b = c->p;
	c->p += n;
	c->left -= n;
	*len = n;
	return b;
}

/* str returns a NUL-terminated string inside the plan buffer. */
static const char *str(struct cur *c) {
	uint32_t n;
	const unsigned char *b = blob(c, &n);
	if (n == 0 || b[n - 1] != '\0' || memchr(b, '\0', n) != b + n - 1)
		bad_plan();
	return (const char *)b;
}

static void read_full(int fd, void *buf, size_t n) {
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			failf(1, "reading the plan");
		if (r == 0) {
			errno = EPIPE;
			failf(1, "reading the plan");
		}
		p += r;
		n -= (size_t)r;
	}
}

/* ---- paths inside the root ------------------------------------------- */

static void fd_path(char *buf, size_t cap, int fd) { snprintf(buf, cap, "/proc/self/fd/%d", fd); }

/* open_in_root opens rel (relative to the root, "" for the root) with
 * RESOLVE_IN_ROOT: symlinks resolve inside the root, never out of it. */
static int open_in_root(const char *rel, int flags, int nosym) {
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (nosym ? RESOLVE_NO_SYMLINKS : 0),
	};
	if (*rel == '\0')
		rel = ".";
	for (;;) {
		int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
		if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
			return fd;
	}
}

/* clean_rel writes p cleaned as an absolute path, without its leading
 * slash ("" for the root): what path.Clean("/"+p) gives, minus the "/". */
static int clean_rel(char *out, size_t cap, const char *p) {
	size_t n = 0;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		if (n + (n > 0) + len + 1 > cap)
			return -1;
		if (n > 0)
			out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

#define MAX_PARTS 512

/* mkdir_all makes p (a directory, or an empty file when file is set)
 * inside the root with its missing parents and returns an O_PATH fd of it;
 * on failure -1 with errno set and what names the failed operation. As
 * mkdirAllInRoot in resolve_linux.go. */
static int mkdir_all(const char *p, int file, int nosym, int hops, const char **what) {
	char rel[PATH_MAX];
	size_t ends[MAX_PARTS];
	*what = "open";
	if (hops > 40) {
		errno = ELOOP;
		return -1;
	}
	if (clean_rel(rel, sizeof(rel), p) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open_in_root(rel, O_PATH, nosym);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	size_t nparts = 0, len = strlen(rel);
	for (size_t i = 0; i <= len; i++) {
		if (rel[i] == '/' || rel[i] == '\0') {
			if (nparts == MAX_PARTS) {
				errno = ENAMETOOLONG;
				return -1;
			}
			ends[nparts++] = i;
		}
	}
	size_t start = 0;
	int cur = -1;
	if (nparts > 1) {
		rel[ends[nparts - 2]] = '\0';
		int pfd = open_in_root(rel, O_PATH, nosym);
		rel[ends[nparts - 2]] = '/';
		if (pfd >= 0) {
			cur = pfd;
			start = nparts - 1;
		} else if (errno != ENOENT) {
			return -1;
		}
	}
	if (cur < 0 && (cur = open_in_root("", O_PATH | O_DIRECTORY, 0)) < 0)
		return -1;
	for (size_t i = start; i < nparts; i++) {
		size_t name_at = i == 0 ? 0 : ends[i - 1] + 1;
		int last = i == nparts - 1;
		rel[ends[i]] = '\0';
		const char *name = rel + name_at;
		int next = open_in_root(rel, O_PATH, nosym);
		if (next < 0 && errno == ENOENT) {
			if (last && file) {
				int dfd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (dfd < 0) {
					close(cur);
					return -1;
				}
				int f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				int saved = errno;
				close(dfd);
				if (f >= 0) {
					close(f);
				} else if (saved != EEXIST) {
					close(cur);
					errno = saved;
					*what = "create";
					return -1;
				}
			} else if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST) {
				int saved = errno;
				close(cur);
				errno = saved;
				*what = "mkdir";
				return -1;
			}
			next = open_in_root(rel, O_PATH, nosym);
			if (next < 0 && errno == ENOENT && !nosym) {
				/* A dangling symlink: create what it points to, still inside the root. */
				char target[PATH_MAX], again[PATH_MAX];
				ssize_t n = readlinkat(cur, name, target, sizeof(target) - 1);
				if (n >= 0) {
					target[n] = '\0';
					const char *rest = last ? "" : rel + ends[i] + 1;
					if (!last)
						rel[ends[i]] = '/';
					int w;
					if (target[0] == '/')
						w = snprintf(again, sizeof(again), "%s/%s", target, rest);
					else
						w = snprintf(again, sizeof(again), "/%.*s/%s/%s", (int)name_at, rel, target, rest);
					close(cur);
					if (w < 0 || (size_t)w >= sizeof(again)) {
						errno = ENAMETOOLONG;
						return -1;
					}
					return mkdir_all(again, file, nosym, hops + 1, what);
				}
				errno = ENOENT;
			}
		}
		int saved = errno;
		if (!last)
			rel[ends[i]] = '/';
		close(cur);
		if (next < 0) {
			errno = saved;
			return -1;
		}
		cur = next;
	}
	return cur;
}

static int must_mkdir_all(const char *p, int file, int nosym) {
	const char *what;
	int fd = mkdir_all(p, file, nosym, 0, &what);
	if (fd < 0)
		failf(1, "%s %s (in the container root)", what, p);
	return fd;
}

static int must_open_in_root(const char *p, int flags, int nosym) {
	int fd = open_in_root(p, flags, nosym);
	if (fd < 0)
		failf(1, "open /%s (in the container root)", p);
	return fd;
}

/* keep_locked adds to flags the flags the mount at fd has that a remount
 * must keep (in a user namespace the kernel refuses to clear them). */
static unsigned long keep_locked(int fd, unsigned long flags) {
	struct statfs st;
	if (fstatfs(fd, &st) == 0) {
		if (st.f_flags & ST_NOSUID)
			flags |= MS_NOSUID;
		if (st.f_flags & ST_NODEV)
			flags |= MS_NODEV;
		if (st.f_flags & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (st.f_flags & ST_RDONLY)
			flags |= MS_RDONLY;
	}
	return flags;
}

static void remount_fd(int fd, unsigned long flags, int keep) {
	char p[64];
	if (keep)
		flags = keep_locked(fd, flags);
	flags &= ~(unsigned long)MS_REC;
	fd_path(p, sizeof(p), fd);
	if (mount("", p, NULL, flags | MS_REMOUNT | MS_BIND, NULL) < 0)
		failf(1, "remount");
}

/* proc returns an fd of /proc in the current root, verified to be a procfs
 * before anything is written through it. */
static int proc(void) {
	if (proc_fd >= 0)
		return proc_fd;
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		failf(1, "checking /proc");
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		failf(1, "checking /proc");
	if (st.f_type != PROC_SUPER_MAGIC)
		failf(0, "/proc is not a procfs (type %#lx): refusing to use it", (unsigned long)st.f_type);
	proc_fd = fd;
	return fd;
}

static void write_proc(const char *rel, const char *value, int beneath) {
	int fd;
	if (beneath) {
		struct open_how how = {
			.flags = O_WRONLY | O_CLOEXEC | O_TRUNC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};
		fd = (int)syscall(SYS_openat2, proc(), rel, &how, sizeof(how));
	} else {
		fd = openat(proc(), rel, O_WRONLY | O_CLOEXEC | O_TRUNC);
	}
	if (fd < 0)
		failf(1, "open /proc/%s", rel);
	size_t n = strlen(value);
	ssize_t w = write(fd, value, n);
	if (w < 0 || (size_t)w != n)
		failf(1, "write /proc/%s", rel);
	close(fd);
}

/* ---- steps ----------------------------------------------------------- */

/* dest_rel skips the leading slashes of an absolute destination. */
static const char *dest_rel(const char *p) {
	while (*p == '/')
		p++;
	return p;
}

static void do_mount(struct cur *c) {
	const char *dest = str(c);
	uint64_t mk = num(c);
	const char *source = str(c);
	const char *fstype = str(c);
	unsigned long flags = (unsigned long)num(c);
	const char *data = str(c);
	int src = -1, file = 0;
	char sp[64], dp[64];
	if (mk & MK_BIND) {
		src = open(source, O_PATH | O_CLOEXEC | ((mk & MK_SRCDIR) ? O_DIRECTORY : 0));
		if (src < 0)
			failf(1, "bind source \"%s\"", source);
		struct stat st;
		if (fstat(src, &st) < 0)
			failf(1, "bind source \"%s\"", source);
		file = !S_ISDIR(st.st_mode);
	}
	int dst = must_mkdir_all(dest, file, (mk & MK_NOSYM) != 0);
	if (mk & MK_DIR) {
		struct stat st;
		if (fstat(dst, &st) < 0)
			failf(1, "stat %s", dest);
		if (!S_ISDIR(st.st_mode))
			failf(0, "destination is not a directory");
	}
	fd_path(dp, sizeof(dp), dst);
	if (mk & MK_BIND) {
		fd_path(sp, sizeof(sp), src);
		if (mount(sp, dp, NULL, flags, NULL) < 0)
			failf(1, "bind mount");
		close(src);
	} else if (mount(source, dp, fstype, flags, data) < 0) {
		if (!((mk & MK_SYSFS_FALLBACK) && errno == EPERM))
			failf(1, "mount");
		/* A user namespace without its own network namespace may not
		 * mount sysfs: bind the host's read-only instead, as runc does. */
		if (mount("/sys", dp, NULL, MS_BIND | MS_REC, NULL) < 0)
			failf(1, "mount");
		int fd = must_open_in_root(dest_rel(dest), O_PATH, 0);
		remount_fd(fd, MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 1);
		close(fd);
	}
	close(dst);
}

/* do_attach puts the detached (idmapped) clone of source the runtime made
 * at dest, as bindMount in mountattr_linux.go. */
static void do_attach(struct cur *c) {
	const char *dest = str(c);
	const char *source = str(c);
	int tree = (int)num(c);
	struct stat st;
	int src = open(source, O_PATH | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		failf(1, "bind source \"%s\"", source);
	close(src);
	int dst = must_mkdir_all(dest, !S_ISDIR(st.st_mode), 0);
	if (syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		failf(1, "attaching the idmapped mount (move_mount)");
	close(tree);
	close(dst);
}

/* ---- tmpcopyup: as tmpcopyup_linux.go ---------------------------------- */

#define MAX_COPY_DEPTH 128

static unsigned char copy_buf[65536];

static void copy_dir(int src, int dst, int depth);

static void copy_file(int src, int dst, const char *name) {
	int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0)
		failf(1, "tmpcopyup: %s", name);
	int t = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t < 0)
		failf(1, "tmpcopyup: %s", name);
	for (;;) {
		ssize_t n = read(s, copy_buf, sizeof(copy_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			failf(1, "tmpcopyup: reading %s", name);
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(t, copy_buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				failf(1, "tmpcopyup: writing %s", name);
			off += w;
		}
	}
	close(s);
	if (close(t) < 0)
		failf(1, "tmpcopyup: writing %s", name);
}

/* copy_entry copies name from the directory src into dst, keeping type,
 * mode, owner and times, never following a symlink. */
static void copy_entry(int src, int dst, const char *name, int depth) {
	struct stat st;
	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		failf(1, "tmpcopyup: %s", name);
	mode_t mode = st.st_mode & 07777;
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		if (mkdirat(dst, name, 0700) < 0)
			failf(1, "tmpcopyup: %s", name);
		int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int t = s < 0 ? -1 : openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			failf(1, "tmpcopyup: %s", name);
		copy_dir(s, t, depth + 1);
		close(s);
		close(t);
		break;
	}
	case S_IFREG:
		copy_file(src, dst, name);
		break;
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
		if (n < 0)
			failf(1, "tmpcopyup: %s", name);
		target[n] = '\0';
		if (symlinkat(target, dst, name) < 0)
			failf(1, "tmpcopyup: %s", name);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		if (mknodat(dst, name, (st.st_mode & S_IFMT) | mode, st.st_rdev) < 0)
			failf(1, "tmpcopyup: %s", name);
		break;
	default:
		failf(0, "tmpcopyup: %s: unknown file type %#o", name, st.st_mode & S_IFMT);
	}
	/* EINVAL: the owner is not mapped into this user namespace; the copy
	 * then belongs to the namespace's root, as with runc. */
	if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL)
		failf(1, "tmpcopyup: %s", name);
	if (!S_ISLNK(st.st_mode) && fchmodat(dst, name, mode, 0) < 0)
		failf(1, "tmpcopyup: %s", name);
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		failf(1, "tmpcopyup: %s", name);
}

static void copy_dir(int src, int dst, int depth) {
	char buf[4096];
	if (depth > MAX_COPY_DEPTH)
		failf(0, "tmpcopyup: directory tree deeper than %d", MAX_COPY_DEPTH);
	for (;;) {
		long n = syscall(SYS_getdents64, src, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			failf(1, "tmpcopyup: reading a directory");
		if (n == 0)
			return;
		for (long off = 0; off < n;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			off += e->d_reclen;
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			copy_entry(src, dst, e->d_name, depth);
		}
	}
}

/* do_tmpcopyup mounts a tmpfs on dest and copies the directory it covers
 * into it, reading the covered directory through an fd opened before the
 * mount, as mountTmpcopyup. */
static void do_tmpcopyup(struct cur *c) {
	const char *dest = str(c);
	const char *source = str(c);
	unsigned long flags = (unsigned long)num(c);
	const char *data = str(c);
	char dp[64];
	int dst = must_mkdir_all(dest, 0, 0);
	int under = openat(dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (under < 0)
		failf(1, "tmpcopyup: opening %s", dest);
	fd_path(dp, sizeof(dp), dst);
	if (mount(source, dp, "tmpfs", flags, data) < 0)
		failf(1, "mount");
	int top = open_in_root(dest_rel(dest), O_RDONLY | O_DIRECTORY, 0);
	if (top < 0)
		failf(1, "tmpcopyup: opening the new tmpfs at %s", dest);
	copy_dir(under, top, 0);
	close(top);
	close(under);
	close(dst);
}

/* ---- hooks that run in the container: as runHook in hooks_linux.go ---- */

static char hook_out[4096];

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read_vec reads a count and that many strings into vec (NULL-terminated). */
static char **read_vec(struct cur *c, char **vec, size_t cap) {
	uint64_t n = num(c);
	if (n >= cap)
		bad_plan();
	for (uint64_t i = 0; i < n; i++)
		vec[i] = (char *)str(c);
	vec[n] = NULL;
	return vec + n + 1;
}

/* do_hook runs one hook with the container's state on its stdin and
 * fails, with the hook's output, if it fails or outlives its timeout. */
static void do_hook(struct cur *c) {
	const char *path = str(c);
	char **argv = exec_vec;
	char **envp = read_vec(c, argv, MAX_VEC);
	read_vec(c, envp, (size_t)(exec_vec + MAX_VEC - envp));
	uint64_t timeout = num(c);
	const char *state = str(c);
	size_t state_len = strlen(state), sent = 0, got = 0;
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		failf(1, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		failf(1, "fork");
	if (pid == 0) {
		/* Only the state and the output: nothing of the init leaks in. */
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(126);
		syscall(SYS_close_range, 3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0)
		failf(1, "pipe");
	/* A hook that exits without reading its stdin must not kill us. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	long long deadline = timeout > 0 ? now_ms() + (long long)timeout * 1000 : -1;
	int timed_out = 0, wfd = in[1];
	if (state_len == 0) {
		close(wfd);
		wfd = -1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = wfd, .events = POLLOUT}};
		int wait = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				timed_out = 1;
				break;
			}
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		int r = poll(p, wfd >= 0 ? 2 : 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			failf(1, "poll");
		if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(wfd, state + sent, state_len - sent);
			if (w > 0)
				sent += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == state_len) {
				close(wfd);
				wfd = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char tmp[1024];
			ssize_t n = read(out[0], tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* every writer is gone */
			size_t keep = (size_t)n < sizeof(hook_out) - 1 - got ? (size_t)n : sizeof(hook_out) - 1 - got;
			memcpy(hook_out + got, tmp, keep);
			got += keep;
		}
	}
	if (wfd >= 0)
		close(wfd);
	close(out[0]);
	sigaction(SIGPIPE, &old, NULL);
	if (timed_out)
		kill(pid, SIGKILL);
	int ws;
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR)
			failf(1, "waiting for the hook");
	}
	if (timed_out)
		failf(0, "timed out after %llus", (unsigned long long)timeout);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return;
	/* As Go words it: "exit status N" or "signal: killed", then the output. */
	char why[128];
	if (WIFEXITED(ws)) {
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(ws));
	} else {
		snprintf(why, sizeof(why), "signal: %s", strsignal(WTERMSIG(ws)));
		if (why[8] >= 'A' && why[8] <= 'Z')
			why[8] = (char)(why[8] - 'A' + 'a');
	}
	hook_out[got] = '\0';
	char *o = hook_out;
	while (*o == ' ' || *o == '\n' || *o == '\t' || *o == '\r')
		o++;
	for (size_t n = strlen(o); n > 0 && (o[n - 1] == ' ' || o[n - 1] == '\n' || o[n - 1] == '\t' || o[n - 1] == '\r'); n--)
		o[n - 1] = '\0';
	if (*o)
		failf(0, "%s: %s", why, o);
	failf(0, "%s", why);
}

static void do_mknod(struct cur *c) {
	const char *dir = str(c);
	const char *name = str(c);
	mode_t mode = (mode_t)num(c);
	dev_t dev = (dev_t)num(c);
	uid_t uid = (uid_t)num(c);
	gid_t gid = (gid_t)num(c);
	int dfd = must_mkdir_all(dir, 0, 0);
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		failf(1, "unlink");
	if (mknodat(dfd, name, mode, dev) < 0)
		failf(1, "mknod");
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		failf(1, "chown");
	close(dfd);
}

static void do_symlink(struct cur *c) {
	const char *dir = str(c);
	const char *target = str(c);
	const char *name = str(c);
	uint64_t sym = num(c);
	int dfd = (sym & SYM_NOSYM) ? must_open_in_root(dir, O_PATH | O_DIRECTORY, 1) : must_mkdir_all(dir, 0, 0);
	if (sym & SYM_REPLACE)
		(void)unlinkat(dfd, name, 0);
	if (symlinkat(target, dfd, name) < 0 && !(sym & SYM_IGNORE) && errno != EEXIST)
		failf(1, "symlink %s/%s", dir, name);
	close(dfd);
}

static void do_hooks(void) {
	static const char msg[] = "{\"type\":\"hooks\"}\n";
	char line[256];
	size_t n = 0;
	write_all(csync, msg, sizeof(msg) - 1);
	for (;;) {
		char ch;
		ssize_t r = read(csync, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? EPIPE : errno;
			failf(1, "waiting for the hooks");
		}
		if (ch == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = ch;
	}
	line[n] = '\0';
	if (strstr(line, "\"type\":\"ok\"") == NULL)
		failf(0, "unexpected answer to the hooks: %s", line);
}

static void reopen_root(void) {
	close(root_fd);
	root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		failf(1, "opening the new root");
}

static void do_pivot(void) {
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		failf(1, "opening the old root");
	if (fchdir(root_fd) < 0)
		failf(1, "fchdir to the rootfs");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		failf(1, "pivot_root");
	if (fchdir(old) < 0)
		failf(1, "fchdir to the old root");
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		failf(1, "making the old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		failf(1, "detaching the old root");
	if (chdir("/") < 0)
		failf(1, "chdir /");
	close(old);
	reopen_root();
}

static void do_chroot(void) {
	if (fchdir(root_fd) < 0)
		failf(1, "fchdir to the rootfs");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		failf(1, "moving the rootfs onto /");
	if (chroot(".") < 0)
		failf(1, "chroot");
	if (chdir("/") < 0)
		failf(1, "chdir /");
	reopen_root();
}

static void do_readonly(const char *p) {
	char fp[64];
	int fd = open_in_root(p, O_PATH, 0);
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0)
		failf(1, "open /%s (in the container root)", p);
	fd_path(fp, sizeof(fp), fd);
	if (mount(fp, fp, NULL, MS_BIND | MS_REC, NULL) < 0)
		failf(1, "bind mount");
	close(fd);
	fd = must_open_in_root(p, O_PATH, 0);
	remount_fd(fd, MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 1);
	close(fd);
}

static void do_mask(const char *p) {
	char fp[64], np[64];
	int fd = open_in_root(p, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0)
		failf(1, "open /%s (in the container root)", p);
	struct stat st;
	if (fstat(fd, &st) < 0)
		failf(1, "stat");
	fd_path(fp, sizeof(fp), fd);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", fp, "tmpfs", MS_RDONLY, "size=0k") < 0)
			failf(1, "mount tmpfs");
		close(fd);
		return;
	}
	int null = must_open_in_root("dev/null", O_PATH, 1);
	if (fstat(null, &st) < 0)
		failf(1, "stat /dev/null");
	/* A /dev/null that is not the null device would unmask, not mask. */
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
		failf(0, "/dev/null in the container is not the null device");
	fd_path(np, sizeof(np), null);
	if (mount(np, fp, NULL, MS_BIND, NULL) < 0)
		failf(1, "bind mount /dev/null");
	close(null);
	close(fd);
}

/* do_console opens a pty in the container's devpts, sends the master to
 * the runtime's caller over the console socket (SCM_RIGHTS), binds the
 * slave over /dev/console and makes it the controlling terminal and stdio,
 * as setupConsole in console_linux.go. */
static void do_console(struct cur *c) {
	int sock = (int)num(c);
	uint64_t has_size = num(c), rows = num(c), cols = num(c), dev_console = num(c);
	char name[64], sp[64], tp[64];
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		failf(1, "opening /dev/ptmx");
	int unlock = 0, n = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		failf(1, "unlocking the pty");
	if (ioctl(master, TIOCGPTN, &n) < 0)
		failf(1, "pty number");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		failf(1, "opening the pty slave");
	if (has_size) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			failf(1, "process.consoleSize");
	}
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	ssize_t w;
	do
		w = sendmsg(sock, &msg, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		failf(1, "sending the pty master over the console socket");
	if (dev_console) {
		(void)proc(); /* the bind goes through /proc/self/fd */
		int t = must_mkdir_all("/dev/console", 1, 1);
		fd_path(sp, sizeof(sp), slave);
		fd_path(tp, sizeof(tp), t);
		if (mount(sp, tp, NULL, MS_BIND, NULL) < 0)
			failf(1, "binding the pty over /dev/console");
		close(t);
	}
	for (int i = 0; i < 3; i++) {
		if (dup3(slave, i, 0) < 0)
			failf(1, "dup3 of the pty slave");
	}
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		failf(1, "making the pty the controlling terminal");
	close(slave);
	close(master);
	close(sock);
}

static void do_lo_up(void) {
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		failf(1, "bringing up lo");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		failf(1, "bringing up lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		failf(1, "bringing up lo");
	close(fd);
}

static void do_chdir(const char *cwd) {
	char buf[PATH_MAX];
	if (chdir(cwd) < 0)
		failf(1, "process.cwd \"%s\"", cwd);
	/* A cwd reached through a leaked fd lies outside the root, and getcwd
	 * says so (CVE-2024-21626). */
	long n = syscall(SYS_getcwd, buf, sizeof(buf));
	if (n <= 0 || buf[0] != '/')
		failf(0, "process.cwd \"%s\" is outside the container root", cwd);
}

static int executable(const char *p) {
	struct stat st;
	return stat(p, &st) == 0 && !S_ISDIR(st.st_mode) && access(p, X_OK) == 0;
}

static void do_lookpath(const char *name, const char *path) {
	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) < 0)
			failf(1, "process.args[0] \"%s\"", name);
		if (strlen(name) >= sizeof(exec_path)) {
			errno = ENAMETOOLONG;
			failf(1, "process.args[0] \"%s\"", name);
		}
		strcpy(exec_path, name);
		return;
	}
	for (const char *d = path;;) {
		const char *e = strchrnul(d, ':');
		int w = e == d ? snprintf(exec_path, sizeof(exec_path), "./%s", name)
			       : snprintf(exec_path, sizeof(exec_path), "%.*s/%s", (int)(e - d), d, name);
		if (w > 0 && (size_t)w < sizeof(exec_path) && executable(exec_path))
			return;
		if (*e == '\0')
			break;
		d = e + 1;
	}
	failf(0, "process.args[0] \"%s\": executable file not found in $PATH", name);
}

static void do_fifo(int fifo) {
	char rel[32];
	snprintf(rel, sizeof(rel), "self/fd/%d", fifo);
	/* Blocks until start opens the other end. */
	int w;
	do
		w = openat(proc(), rel, O_WRONLY | O_CLOEXEC);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		failf(1, "opening exec.fifo");
	if (write(w, "0", 1) != 1)
		failf(1, "writing exec.fifo");
	close(w);
	close(fifo);
}

static void do_seccomp(struct cur *c) {
	uint64_t flags = num(c);
	uint32_t len;
	const unsigned char *prog = blob(c, &len);
	if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		bad_plan();
	struct sock_fprog fprog = {
		.len = (unsigned short)(len / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)(uintptr_t)prog,
	};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)(SECCOMP_FILTER_FLAG_TSYNC | flags), &fprog);
	if (r < 0)
		failf(1, "loading seccomp filter");
	if (r > 0)
		failf(0, "loading seccomp filter: thread %ld could not be synchronised", r);
}

static void do_user(struct cur *c) {
	uint64_t uid = num(c), gid = num(c), n = num(c);
	if (n > MAX_GROUPS)
		bad_plan();
	for (uint64_t i = 0; i < n; i++)
		groups[i] = (gid_t)num(c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		failf(1, "keepcaps");
	/* Raw system calls: this thread alone is the process. */
	if (syscall(SYS_setgroups, (size_t)n, groups) < 0 && !(errno == EPERM && n == 0))
		failf(1, "process.user.additionalGids");
	if (syscall(SYS_setresgid, (gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		failf(1, "process.user.gid %llu", (unsigned long long)gid);
	if (syscall(SYS_setresuid, (uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		failf(1, "process.user.uid %llu", (unsigned long long)uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		failf(1, "keepcaps");
}

static void do_caps(struct cur *c) {
	uint64_t eff = num(c), perm = num(c), inh = num(c), amb = num(c);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(perm >> (32 * i));
		data[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		failf(1, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		failf(1, "clearing ambient capabilities");
	for (int cap = 0; cap < 64; cap++) {
		if ((amb >> cap) & 1) {
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				failf(1, "raising ambient capability %d", cap);
		}
	}
}

static void __attribute__((noreturn)) do_exec(struct cur *c) {
	uint64_t argc = num(c);
	if (argc == 0 || argc >= MAX_VEC)
		bad_plan();
	char **argv = exec_vec;
	for (uint64_t i = 0; i < argc; i++)
		argv[i] = (char *)str(c);
	argv[argc] = NULL;
	uint64_t envc = num(c);
	if (envc >= MAX_VEC - argc - 1)
		bad_plan();
	char **envp = exec_vec + argc + 1;
	for (uint64_t i = 0; i < envc; i++)
		envp[i] = (char *)str(c);
	envp[envc] = NULL;
	execve(exec_path, argv, envp);
	failf(1, "exec \"%s\"", exec_path);
}

static void run(struct cur *c) {
	while (c->left > 0) {
		uint64_t op = num(c);
		switch (op) {
		case OP_STEP: {
			const char *s = str(c);
			snprintf(step, sizeof(step), "%s", s);
			break;
		}
		case OP_UMASK:
			umask((mode_t)num(c));
			break;
		case OP_UNSHARE:
			if (unshare((int)num(c)) < 0)
				failf(1, "unshare");
			break;
		case OP_KEYRING: {
			const char *name = str(c);
			if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name) < 0 && errno != ENOSYS && errno != EACCES)
				failf(1, "creating a session keyring");
			break;
		}
		case OP_HOSTNAME: {
			const char *s = str(c);
			if (sethostname(s, strlen(s)) < 0)
				failf(1, "hostname");
			break;
		}
		case OP_DOMAINNAME: {
			const char *s = str(c);
			if (setdomainname(s, strlen(s)) < 0)
				failf(1, "domainname");
			break;
		}
		case OP_LO_UP:
			do_lo_up();
			break;
		case OP_PROPAGATE: {
			const char *p = str(c);
			unsigned long flags = (unsigned long)num(c);
			if (mount("", p, NULL, flags, NULL) < 0)
				failf(1, "setting propagation of %s", p);
			break;
		}
		case OP_ROOT: {
			const char *rootfs = str(c);
			uint64_t userns = num(c);
			if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
				if (errno == EACCES && userns)
					failf(1, "root.path %s is not reachable by the user namespace's root: make its parent directories searchable (o+x)", rootfs);
				failf(1, "bind-mounting the rootfs onto itself");
			}
			root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (root_fd < 0)
				failf(1, "opening rootfs");
			break;
		}
		case OP_MOUNT:
			do_mount(c);
			break;
		case OP_REMOUNT: {
			const char *p = str(c);
			unsigned long flags = (unsigned long)num(c);
			int keep = num(c) != 0;
			int fd = must_open_in_root(p, O_PATH, 0);
			remount_fd(fd, flags, keep);
			close(fd);
			break;
		}
		case OP_SETATTR: {
			const char *p = str(c);
			struct mount_attr attr = {.attr_set = num(c), .attr_clr = num(c)};
			int fd = must_open_in_root(p, O_PATH, 0);
			if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
				failf(1, "recursive mount options (mount_setattr)");
			close(fd);
			break;
		}
		case OP_PROPAGATE_IN: {
			char fp[64];
			const char *p = str(c);
			unsigned long flags = (unsigned long)num(c);
			int fd = must_open_in_root(p, O_PATH, 0);
			fd_path(fp, sizeof(fp), fd);
			if (mount("", fp, NULL, flags, NULL) < 0)
				failf(1, "setting propagation");
			close(fd);
			break;
		}
		case OP_MKNOD:
			do_mknod(c);
			break;
		case OP_SYMLINK:
			do_symlink(c);
			break;
		case OP_HOOKS:
			do_hooks();
			break;
		case OP_PIVOT:
			do_pivot();
			break;
		case OP_CHROOT:
			do_chroot();
			break;
		case OP_SYSCTL: {
			const char *rel = str(c);
			const char *value = str(c);
			write_proc(rel, value, 1);
			break;
		}
		case OP_READONLY:
			(void)proc();
			do_readonly(str(c));
			break;
		case OP_MASK:
			(void)proc();
			do_mask(str(c));
			break;
		case OP_RLIMIT: {
			int res = (int)num(c);
			struct rlimit rl = {.rlim_cur = (rlim_t)num(c), .rlim_max = (rlim_t)num(c)};
			if (setrlimit(res, &rl) < 0)
				failf(1, "setrlimit");
			break;
		}
		case OP_OOM:
			write_proc("self/oom_score_adj", str(c), 0);
			break;
		case OP_CHDIR:
			do_chdir(str(c));
			break;
		case OP_LOOKPATH: {
			const char *name = str(c);
			do_lookpath(name, str(c));
			break;
		}
		case OP_READY: {
			static const char msg[] = "{\"type\":\"ready\",\"init\":\"c\"}\n";
			write_all(csync, msg, sizeof(msg) - 1);
			close(csync);
			csync = -1;
			break;
		}
		case OP_FIFO:
			do_fifo((int)num(c));
			break;
		case OP_CLOSE_FROM: {
			unsigned int first = (unsigned int)num(c);
			/* Nothing of the runtime may leak into the container (CVE-2024-21626). */
			if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
				failf(1, "close_range");
			break;
		}
		case OP_NNP:
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				failf(1, "process.noNewPrivileges");
			break;
		case OP_SECCOMP:
			do_seccomp(c);
			break;
		case OP_BOUNDING_DROP: {
			uint64_t mask = num(c);
			for (int cap = 0; cap < 64; cap++) {
				if (((mask >> cap) & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
					failf(1, "dropping capability %d from the bounding set", cap);
			}
			break;
		}
		case OP_USER:
			do_user(c);
			break;
		case OP_CAPS:
			do_caps(c);
			break;
		case OP_CONSOLE:
			do_console(c);
			break;
		case OP_ATTACH:
			do_attach(c);
			break;
		case OP_TMPCOPYUP:
			do_tmpcopyup(c);
			break;
		case OP_HOOK:
			do_hook(c);
			break;
		case OP_SETSID: {
			uint64_t must = num(c);
			if (setsid() < 0 && must)
				failf(1, "setsid");
			break;
		}
		case OP_EXEC:
			do_exec(c);
		default:
			bad_plan();
		}
	}
	errno = EPROTO;
	failf(1, "the plan ended without exec");
}

/* berth_cinit runs the plan when this process is a container init on the
 * C path; otherwise it returns. */
void berth_cinit(void) {
	const char *mode = getenv("_BERTH_INIT");
	if (mode == NULL || strcmp(mode, "cinit") != 0)
		return;
	const char *fd = getenv("_BERTH_SYNC");
	char *end;
	if (fd == NULL || *fd == '\0')
		_exit(1);
	long v = strtol(fd, &end, 10);
	if (*end != '\0' || v < 3 || v > INT_MAX)
		_exit(1);
	csync = (int)v;
	uint32_t hdr[2];
	read_full(csync, hdr, sizeof(hdr));
	if (hdr[0] != PLAN_MAGIC || hdr[1] > PLAN_MAX)
		bad_plan();
	read_full(csync, plan, hdr[1]);
	struct cur c = {.p = plan, .left = hdr[1]};
	run(&c);
}
