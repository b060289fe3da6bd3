// Package seccomp compiles OCI seccomp profiles (specs.LinuxSeccomp) into
// classic BPF filters and loads them into the calling process.
//
// The compiler is pure Go (no libseccomp, no cgo). For every architecture the
// profile lists (on amd64: x86_64, x86 and x32, so a 32-bit or x32 system call
// cannot go around the filter) it emits a section selected by the audit
// architecture, looks the syscall number up with a binary search, then checks
// each rule's argument conditions on full 64-bit values (high and low words).
//
// Semantics follow runc's (libseccomp's) where a profile could be read two ways:
//   - syscall names unknown for an architecture are skipped, because profiles
//     list calls newer than the kernel or absent from an architecture;
//   - the conditions of one rule must all hold, except that a rule naming the
//     same argument more than once matches when any one of its conditions holds;
//   - rules with conditions are tried in profile order before a rule without
//     conditions for the same call; the first unconditional rule wins;
//   - a call from an architecture the profile does not list kills the process;
//   - with an errno default action, a syscall number above every number berth
//     knows for the architecture fails with ENOSYS, so a C library falls back
//     to an older call instead of treating EPERM as final;
//   - on 32-bit ABIs (x86, x32, arm) only the low 32 bits of an argument are
//     compared, as the kernel passes 32-bit values there;
//   - on x86 and ppc64le a rule without conditions on a socket or SysV IPC
//     call also covers that call made through socketcall(2) or ipc(2).
//
// Architectures with tables: x86_64, x86, x32, aarch64, arm, riscv64 and
// ppc64le; others a profile lists are skipped.
//
// SCMP_ACT_NOTIFY (user-space notification) and a listenerPath are not
// supported: Compile returns an error wrapping errdefs.ErrNotImplemented.
package seccomp
