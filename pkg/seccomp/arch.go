package seccomp

import (
	"runtime"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Audit architecture values the kernel puts in seccomp_data.arch
// (linux/audit.h). They are spelled out so the compiler builds on every GOARCH.
const (
	auditArchX86_64  = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAARCH64 = 0xc00000b7
	auditArchARM     = 0x40000028
	auditArchRISCV64 = 0xc00000f3
	auditArchPPC64LE = 0xc0000015
)

// x32SyscallBit marks an x32 system call: x32 and x86_64 share one audit
// architecture and are told apart only by this bit in the syscall number.
const x32SyscallBit = 0x40000000

// nrSplit says which part of an audit architecture's number space an ABI owns.
type nrSplit int

const (
	splitNone nrSplit = iota // the ABI owns every number
	splitLow                 // numbers below x32SyscallBit (x86_64)
	splitHigh                // numbers at or above x32SyscallBit (x32)
)

// abi is one system call ABI a filter can be compiled for.
type abi struct {
	name  specs.Arch
	audit uint32
	split nrSplit
	// arg32 means the ABI passes 32-bit arguments: only the low word of each
	// argument is compared, as libseccomp does for 32-bit architectures.
	arg32 bool
	table map[string]uint32
	// multiplexed is set where socketcall and ipc reach the socket and SysV
	// IPC calls too (32-bit x86, ppc64le).
	multiplexed bool
}

// armPrivate are ARM's private system calls (__ARM_NR_*), which the generic
// tables lack but docker's profile names.
var armPrivate = map[string]uint32{
	"breakpoint": 0x0f0001,
	"cacheflush": 0x0f0002,
	"usr26":      0x0f0003,
	"usr32":      0x0f0004,
	"set_tls":    0x0f0005,
}

// x32Compat are the x32 entries of the kernel's syscall_64.tbl (512-547):
// calls whose x32 version differs from x86_64's and has its own number.
var x32Compat = map[string]uint32{
	"rt_sigaction": 512, "rt_sigreturn": 513, "ioctl": 514, "readv": 515,
	"writev": 516, "recvfrom": 517, "sendmsg": 518, "recvmsg": 519,
	"execve": 520, "ptrace": 521, "rt_sigpending": 522, "rt_sigtimedwait": 523,
	"rt_sigqueueinfo": 524, "sigaltstack": 525, "timer_create": 526,
	"mq_notify": 527, "kexec_load": 528, "waitid": 529, "set_robust_list": 530,
	"get_robust_list": 531, "vmsplice": 532, "move_pages": 533, "preadv": 534,
	"pwritev": 535, "rt_tgsigqueueinfo": 536, "recvmmsg": 537, "sendmmsg": 538,
	"process_vm_readv": 539, "process_vm_writev": 540, "setsockopt": 541,
	"getsockopt": 542, "io_setup": 543, "io_submit": 544, "execveat": 545,
	"preadv2": 546, "pwritev2": 547,
}

// x86_64Only are entries of syscall_64.tbl with the "64" ABI and no x32
// replacement: x32 has no such call, so its table leaves them out.
var x86_64Only = []string{
	"_sysctl", "create_module", "epoll_ctl_old", "epoll_wait_old",
	"get_kernel_syms", "get_thread_area", "map_shadow_stack", "nfsservctl",
	"query_module", "set_thread_area", "uselib", "vserver",
}

// Multiplexed calls of 32-bit x86 and ppc: socketcall(2) and ipc(2) reach the socket
// and SysV IPC calls by number in their first argument (linux/net.h, ipc.h),
// besides the direct syscalls newer kernels have.
var (
	x86Socketcall = map[string]uint64{
		"socket": 1, "bind": 2, "connect": 3, "listen": 4, "accept": 5,
		"getsockname": 6, "getpeername": 7, "socketpair": 8, "send": 9,
		"recv": 10, "sendto": 11, "recvfrom": 12, "shutdown": 13,
		"setsockopt": 14, "getsockopt": 15, "sendmsg": 16, "recvmsg": 17,
		"accept4": 18, "recvmmsg": 19, "sendmmsg": 20,
	}
	x86IPC = map[string]uint64{
		"semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4,
		"msgsnd": 11, "msgrcv": 12, "msgget": 13, "msgctl": 14,
		"shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24,
	}
)

// abiDefs lists every ABI the compiler knows, by OCI architecture name.
// Their tables are built on first use (see abiOf): most runtime processes
// compile no filter, and a filter needs only a few of them.
var abiDefs = map[specs.Arch]struct {
	abi
	table func() map[string]uint32
}{
	specs.ArchX86_64:  {abi{name: specs.ArchX86_64, audit: auditArchX86_64, split: splitLow}, sysX86_64},
	specs.ArchX32:     {abi{name: specs.ArchX32, audit: auditArchX86_64, split: splitHigh, arg32: true}, x32Table},
	specs.ArchX86:     {abi{name: specs.ArchX86, audit: auditArchI386, arg32: true, multiplexed: true}, sysX86},
	specs.ArchAARCH64: {abi{name: specs.ArchAARCH64, audit: auditArchAARCH64}, sysAARCH64},
	specs.ArchARM:     {abi{name: specs.ArchARM, audit: auditArchARM, arg32: true}, armTable},
	specs.ArchRISCV64: {abi{name: specs.ArchRISCV64, audit: auditArchRISCV64}, sysRISCV64},
	specs.ArchPPC64LE: {abi{name: specs.ArchPPC64LE, audit: auditArchPPC64LE, multiplexed: true}, sysPPC64LE},
}

var (
	abiMu    sync.Mutex
	abiCache = map[specs.Arch]*abi{}
)

// abiOf returns the ABI of arch with its table, or nil if it is unknown.
func abiOf(arch specs.Arch) *abi {
	abiMu.Lock()
	defer abiMu.Unlock()
	if ab, ok := abiCache[arch]; ok {
		return ab
	}
	def, ok := abiDefs[arch]
	if !ok {
		return nil
	}
	ab := def.abi
	ab.table = def.table()
	abiCache[arch] = &ab
	return &ab
}

// nativeArches are the ABIs a process on this GOARCH can call the kernel
// with; a filter that lists none of them is compiled for the native one.
func nativeArches() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "386":
		return []specs.Arch{specs.ArchX86}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "arm":
		return []specs.Arch{specs.ArchARM}
	case "riscv64":
		return []specs.Arch{specs.ArchRISCV64}
	case "ppc64le":
		return []specs.Arch{specs.ArchPPC64LE}
	}
	return nil
}

// x32Table derives x32's numbers: the calls x86_64 and x32 share, with the
// x32 bit set, and the x32-specific compat entries in place of x86_64's.
func x32Table() map[string]uint32 {
	x86_64 := sysX86_64()
	t := make(map[string]uint32, len(x86_64))
	for name, nr := range x86_64 {
		t[name] = nr | x32SyscallBit
	}
	for name, nr := range x32Compat {
		t[name] = nr | x32SyscallBit
	}
	for _, name := range x86_64Only {
		delete(t, name)
	}
	return t
}

// armTable adds ARM's private calls to the generic table.
func armTable() map[string]uint32 {
	t := sysARM()
	for name, nr := range armPrivate {
		t[name] = nr
	}
	return t
}
