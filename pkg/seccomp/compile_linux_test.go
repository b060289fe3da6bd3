package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const sigchld = 17

// run interprets a compiled filter the way the kernel does, on one
// seccomp_data, and returns the filter's verdict.
func run(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K > 60 {
				t.Fatalf("pc %d: load from offset %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += int(pick(acc == in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			pc += int(pick(acc > in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += int(pick(acc >= in.K, in.Jt, in.Jf))
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("pc %d: unexpected instruction %#x", pc, in.Code)
		}
	}
	t.Fatalf("filter ran off its end")
	return 0
}

func pick(c bool, jt, jf uint8) uint8 {
	if c {
		return jt
	}
	return jf
}

func errnoRet(e unix.Errno) uint32 { return retErrno | uint32(e) }

func uintp(v uint) *uint { return &v }

// nr looks a syscall up in an ABI's table, failing the test if it is absent.
func nr(t *testing.T, arch specs.Arch, name string) uint32 {
	t.Helper()
	n, ok := abiOf(arch).table[name]
	if !ok {
		t.Fatalf("%s has no syscall %q", arch, name)
	}
	return n
}

type probe struct {
	arch specs.Arch
	call string
	args []uint64
	want uint32
}

func (p probe) String() string { return fmt.Sprintf("%s/%s%v", p.arch, p.call, p.args) }

func TestCompileSemantics(t *testing.T) {
	allX86 := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	tests := []struct {
		name    string
		profile specs.LinuxSeccomp
		probes  []probe
		raw     []struct{ arch, nr, want uint32 }
	}{
		{
			name: "allow list with errno default on every x86 ABI",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno, Architectures: allX86,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write", "readv", "no_such_call"}, Action: specs.ActAllow}},
			},
			probes: []probe{
				{specs.ArchX86_64, "read", nil, retAllow},
				{specs.ArchX86_64, "readv", nil, retAllow},
				{specs.ArchX86_64, "getpid", nil, errnoRet(unix.EPERM)},
				{specs.ArchX86, "read", nil, retAllow},
				{specs.ArchX86, "getpid", nil, errnoRet(unix.EPERM)},
				{specs.ArchX32, "read", nil, retAllow},
				{specs.ArchX32, "readv", nil, retAllow},
				{specs.ArchX32, "getpid", nil, errnoRet(unix.EPERM)},
			},
			raw: []struct{ arch, nr, want uint32 }{
				{auditArchX86_64, 19 | x32SyscallBit, errnoRet(unix.EPERM)}, // readv's x86_64 number is not x32's
				{auditArchX86_64, 5000, errnoRet(unix.ENOSYS)},              // newer than berth knows
				{auditArchX86_64, 5000 | x32SyscallBit, errnoRet(unix.ENOSYS)},
				{auditArchAARCH64, 63, retKillProcess}, // an architecture not listed
			},
		},
		{
			name: "deny list: errnoRet reaches the 32-bit ABI too",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, Architectures: allX86,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EINVAL))}},
			},
			probes: []probe{
				{specs.ArchX86_64, "personality", nil, errnoRet(unix.EINVAL)},
				{specs.ArchX86, "personality", nil, errnoRet(unix.EINVAL)},
				{specs.ArchX32, "personality", nil, errnoRet(unix.EINVAL)},
				{specs.ArchX86_64, "getpid", nil, retAllow},
			},
			raw: []struct{ arch, nr, want uint32 }{
				{auditArchX86_64, 5000, retAllow}, // no ENOSYS stub under an allow default
			},
		},
		{
			name: "only x86_64 listed: x86 and x32 calls are killed",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"keyctl"}, Action: specs.ActErrno}},
			},
			probes: []probe{
				{specs.ArchX86_64, "getpid", nil, retAllow},
				{specs.ArchX86_64, "keyctl", nil, errnoRet(unix.EPERM)},
				{specs.ArchX86, "getpid", nil, retKillProcess},
				{specs.ArchX32, "getpid", nil, retKillProcess},
			},
		},
		{
			name: "every action",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActKillProcess, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"read"}, Action: specs.ActAllow},
					{Names: []string{"write"}, Action: specs.ActLog},
					{Names: []string{"open"}, Action: specs.ActTrap},
					{Names: []string{"close"}, Action: specs.ActTrace, ErrnoRet: uintp(7)},
					{Names: []string{"stat"}, Action: specs.ActKill},
					{Names: []string{"fstat"}, Action: specs.ActKillThread},
					{Names: []string{"lstat"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
					{Names: []string{"poll"}, Action: specs.ActErrno},
				},
			},
			probes: []probe{
				{specs.ArchX86_64, "read", nil, retAllow},
				{specs.ArchX86_64, "write", nil, retLog},
				{specs.ArchX86_64, "open", nil, retTrap},
				{specs.ArchX86_64, "close", nil, retTrace | 7},
				{specs.ArchX86_64, "stat", nil, retKillThread},
				{specs.ArchX86_64, "fstat", nil, retKillThread},
				{specs.ArchX86_64, "lstat", nil, retErrno},
				{specs.ArchX86_64, "poll", nil, errnoRet(unix.EPERM)},
				{specs.ArchX86_64, "getpid", nil, retKillProcess},
			},
		},
		{
			name: "64-bit argument comparisons",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, Architectures: allX86,
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uintp(1), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x1_0000_0005, Op: specs.OpEqualTo}}},
					{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uintp(2), Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x1_0000_0005, Op: specs.OpNotEqual}}},
					{Names: []string{"open"}, Action: specs.ActErrno, ErrnoRet: uintp(3), Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0x1_0000_0005, Op: specs.OpGreaterThan}}},
					{Names: []string{"close"}, Action: specs.ActErrno, ErrnoRet: uintp(4), Args: []specs.LinuxSeccompArg{{Index: 3, Value: 0x1_0000_0005, Op: specs.OpGreaterEqual}}},
					{Names: []string{"stat"}, Action: specs.ActErrno, ErrnoRet: uintp(5), Args: []specs.LinuxSeccompArg{{Index: 4, Value: 0x1_0000_0005, Op: specs.OpLessThan}}},
					{Names: []string{"fstat"}, Action: specs.ActErrno, ErrnoRet: uintp(6), Args: []specs.LinuxSeccompArg{{Index: 5, Value: 0x1_0000_0005, Op: specs.OpLessEqual}}},
					{Names: []string{"lstat"}, Action: specs.ActErrno, ErrnoRet: uintp(7), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff_0000_00f0, ValueTwo: 0x10_0000_0030, Op: specs.OpMaskedEqual}}},
				},
			},
			probes: cmpProbes(),
		},
		{
			name: "several conditions: all must hold, unless one argument repeats",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 16, Op: specs.OpEqualTo}, {Index: 2, Value: 9, Op: specs.OpEqualTo}}},
					{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}},
				},
			},
			probes: []probe{
				{specs.ArchX86_64, "socket", []uint64{16, 3, 9}, errnoRet(unix.EPERM)},
				{specs.ArchX86_64, "socket", []uint64{16, 3, 0}, retAllow},
				{specs.ArchX86_64, "socket", []uint64{2, 3, 9}, retAllow},
				{specs.ArchX86_64, "personality", []uint64{1}, errnoRet(unix.EPERM)},
				{specs.ArchX86_64, "personality", []uint64{2}, errnoRet(unix.EPERM)},
				{specs.ArchX86_64, "personality", []uint64{3}, retAllow},
			},
		},
		{
			name: "conditional rules come before the unconditional one",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"clone"}, Action: specs.ActAllow},
					{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EINVAL)),
						Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual, ValueTwo: unix.CLONE_NEWUSER}}},
				},
			},
			probes: []probe{
				{specs.ArchX86_64, "clone", []uint64{unix.CLONE_NEWUSER | sigchld}, errnoRet(unix.EINVAL)},
				{specs.ArchX86_64, "clone", []uint64{sigchld}, retAllow},
			},
		},
		{
			name: "32-bit ABIs compare the low word only",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, Architectures: allX86,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"personality"}, Action: specs.ActErrno,
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffff_ffff_ffff_ffff, Op: specs.OpEqualTo}}}},
			},
			probes: []probe{
				{specs.ArchX86, "personality", []uint64{0xffff_ffff}, errnoRet(unix.EPERM)},
				{specs.ArchX86_64, "personality", []uint64{0xffff_ffff}, retAllow},
				{specs.ArchX86_64, "personality", []uint64{0xffff_ffff_ffff_ffff}, errnoRet(unix.EPERM)},
			},
		},
		{
			name: "arm64 and its 32-bit arm ABI",
			profile: specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchAARCH64, specs.ArchARM, specs.ArchMIPS},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"openat", "set_tls", "open"}, Action: specs.ActAllow}},
			},
			probes: []probe{
				{specs.ArchAARCH64, "openat", nil, retAllow},
				{specs.ArchARM, "openat", nil, retAllow},
				{specs.ArchARM, "open", nil, retAllow},
				{specs.ArchARM, "set_tls", nil, retAllow},
				{specs.ArchAARCH64, "getpid", nil, errnoRet(unix.EPERM)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Compile(&tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.probes {
				if got := run(t, prog, abiOf(p.arch).audit, nr(t, p.arch, p.call), p.args...); got != p.want {
					t.Errorf("%s: got %#x, want %#x", p, got, p.want)
				}
			}
			for _, r := range tt.raw {
				if got := run(t, prog, r.arch, r.nr); got != r.want {
					t.Errorf("arch %#x nr %#x: got %#x, want %#x", r.arch, r.nr, got, r.want)
				}
			}
		})
	}
}

// cmpProbes checks each operator on both sides of a value whose high and
// low words both matter (0x1_0000_0005).
func cmpProbes() []probe {
	const v = 0x1_0000_0005
	around := []uint64{0, 5, v - 1, v, v + 1, 0x2_0000_0000, 0x0_ffff_ffff, 0x1_0000_0000}
	var ps []probe
	ops := []struct {
		call string
		idx  int
		ret  uint32
		hold func(x uint64) bool
	}{
		{"read", 0, 1, func(x uint64) bool { return x == v }},
		{"write", 1, 2, func(x uint64) bool { return x != v }},
		{"open", 2, 3, func(x uint64) bool { return x > v }},
		{"close", 3, 4, func(x uint64) bool { return x >= v }},
		{"stat", 4, 5, func(x uint64) bool { return x < v }},
		{"fstat", 5, 6, func(x uint64) bool { return x <= v }},
		{"lstat", 0, 7, func(x uint64) bool { return x&0xff_0000_00f0 == 0x10_0000_0030 }},
	}
	masked := []uint64{0x10_0000_0030, 0x10_0000_0031, 0x11_0000_0030, 0x20_0000_0030, 0x10_0000_0130, 0x30, 0}
	for _, op := range ops {
		vals := around
		if op.call == "lstat" {
			vals = masked
		}
		for _, x := range vals {
			args := make([]uint64, 6)
			args[op.idx] = x
			want := uint32(retAllow)
			if op.hold(x) {
				want = retErrno | op.ret
			}
			ps = append(ps, probe{specs.ArchX86_64, op.call, args, want})
		}
	}
	return ps
}

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		want    error
	}{
		{"nil", nil, errdefs.ErrInvalidArgument},
		{"no default action", &specs.LinuxSeccomp{}, errdefs.ErrInvalidArgument},
		{"unknown default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, errdefs.ErrInvalidArgument},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, errdefs.ErrNotImplemented},
		{"notify rule", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}, errdefs.ErrNotImplemented},
		{"listener path", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"}, errdefs.ErrNotImplemented},
		{"errnoRet on allow", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)}, errdefs.ErrInvalidArgument},
		{"errnoRet too big", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(70000)}, errdefs.ErrInvalidArgument},
		{"rule without names", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}, errdefs.ErrInvalidArgument},
		{"arg index 6", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, errdefs.ErrInvalidArgument},
		{"unknown op", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_ODD"}}}}}, errdefs.ErrInvalidArgument},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, errdefs.ErrInvalidArgument},
		{"only foreign arches", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}}, errdefs.ErrNotImplemented},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, errdefs.ErrInvalidArgument},
		{"wait killable recv", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, errdefs.ErrNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.profile)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// dockerCaps are docker's default capabilities, for rendering its profile.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func dockerProfile(t testing.TB, caps []string) *specs.LinuxSeccomp {
	t.Helper()
	sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := profiles.GetDefaultProfile(sp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompileDockerDefault(t *testing.T) {
	p := dockerProfile(t, dockerCaps)
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker's default profile: %d instructions", len(prog))
	probes := []probe{
		{specs.ArchX86_64, "read", nil, retAllow},
		{specs.ArchX86, "read", nil, retAllow},
		{specs.ArchX32, "read", nil, retAllow},
		{specs.ArchX86_64, "keyctl", nil, errnoRet(unix.EPERM)},
		{specs.ArchX86, "keyctl", nil, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "unshare", nil, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "mount", nil, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "clone3", nil, errnoRet(unix.ENOSYS)},
		{specs.ArchX86_64, "personality", []uint64{0}, retAllow},
		{specs.ArchX86_64, "personality", []uint64{0xffffffff}, retAllow},
		{specs.ArchX86_64, "personality", []uint64{0x0400000}, errnoRet(unix.EPERM)},
		{specs.ArchX86, "personality", []uint64{8}, retAllow},
		{specs.ArchX86, "personality", []uint64{0x0400000}, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "clone", []uint64{sigchld}, retAllow},
		{specs.ArchX86_64, "clone", []uint64{unix.CLONE_NEWNS | sigchld}, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "socket", []uint64{unix.AF_INET}, retAllow},
		{specs.ArchX86_64, "socket", []uint64{unix.AF_VSOCK}, errnoRet(unix.EPERM)},
	}
	for _, p := range probes {
		if got := run(t, prog, abiOf(p.arch).audit, nr(t, p.arch, p.call), p.args...); got != p.want {
			t.Errorf("%s: got %#x, want %#x", p, got, p.want)
		}
	}

	// With CAP_SYS_ADMIN the profile allows mount and namespaced clones.
	admin := dockerProfile(t, append([]string{"CAP_SYS_ADMIN"}, dockerCaps...))
	prog, err = Compile(admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []probe{
		{specs.ArchX86_64, "mount", nil, retAllow},
		{specs.ArchX86_64, "clone", []uint64{unix.CLONE_NEWNS | sigchld}, retAllow},
	} {
		if got := run(t, prog, abiOf(p.arch).audit, nr(t, p.arch, p.call), p.args...); got != p.want {
			t.Errorf("CAP_SYS_ADMIN: %s: got %#x, want %#x", p, got, p.want)
		}
	}
}

// TestCompileFarJumps builds a profile whose rule bodies are far longer than
// a conditional jump can reach, so the assembler must place trampolines.
func TestCompileFarJumps(t *testing.T) {
	p := specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}}
	for i := range 300 {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: uint64(i) * 0x1_0000_0001, Op: specs.OpEqualTo}}})
	}
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"read", "write", "getpid"}, Action: specs.ActAllow})
	prog, err := Compile(&p)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 1000 {
		t.Fatalf("program of %d instructions does not exercise far jumps", len(prog))
	}
	for _, pr := range []probe{
		{specs.ArchX86_64, "ioctl", []uint64{0, 0}, retAllow},
		{specs.ArchX86_64, "ioctl", []uint64{0, 299 * 0x1_0000_0001}, retAllow},
		{specs.ArchX86_64, "ioctl", []uint64{0, 150 * 0x1_0000_0001}, retAllow},
		{specs.ArchX86_64, "ioctl", []uint64{0, 150}, errnoRet(unix.EPERM)},
		{specs.ArchX86_64, "getpid", nil, retAllow},
		{specs.ArchX86_64, "gettid", nil, errnoRet(unix.EPERM)},
	} {
		if got := run(t, prog, auditArchX86_64, nr(t, pr.arch, pr.call), pr.args...); got != pr.want {
			t.Errorf("%s: got %#x, want %#x", pr, got, pr.want)
		}
	}
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled || len(f.Actions) != 8 || len(f.Operators) != 7 || len(f.Archs) != len(abiDefs) {
		t.Fatalf("features %+v", f)
	}
	if Supported() && len(f.SupportedFlags) == 0 {
		t.Errorf("kernel supports seccomp but no flag probed as supported: %+v", f)
	}
}

// TestCompileX86Multiplexed: on 32-bit x86 a socket or SysV IPC call also
// arrives through socketcall(2) or ipc(2); a deny rule must cover that way in.
func TestCompileX86Multiplexed(t *testing.T) {
	p := specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"socket", "msgget"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EAFNOSUPPORT))}},
	}
	prog, err := Compile(&p)
	if err != nil {
		t.Fatal(err)
	}
	denied := errnoRet(unix.EAFNOSUPPORT)
	for _, pr := range []probe{
		{specs.ArchX86_64, "socket", nil, denied},
		{specs.ArchX86, "socket", nil, denied},
		{specs.ArchX86, "socketcall", []uint64{1}, denied},
		{specs.ArchX86, "socketcall", []uint64{2}, retAllow},
		{specs.ArchX86, "ipc", []uint64{13}, denied},
		{specs.ArchX86, "ipc", []uint64{13 | 1<<16}, denied}, // with a version in the high bits
		{specs.ArchX86, "ipc", []uint64{14}, retAllow},
		{specs.ArchX86, "msgget", nil, denied},
		{specs.ArchX86_64, "msgget", nil, denied},
	} {
		if got := run(t, prog, abiOf(pr.arch).audit, nr(t, pr.arch, pr.call), pr.args...); got != pr.want {
			t.Errorf("%s: got %#x, want %#x", pr, got, pr.want)
		}
	}
}

// TestCompileRuleOrder: a conditional rule whose action is the default still
// shadows a later rule that would also match.
func TestCompileRuleOrder(t *testing.T) {
	p := specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpLessEqual}}},
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 9, Op: specs.OpEqualTo}}},
		},
	}
	prog, err := Compile(&p)
	if err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[uint64]uint32{0: retAllow, 1: errnoRet(unix.EPERM), 5: retAllow, 6: errnoRet(unix.EPERM), 9: errnoRet(unix.EPERM)} {
		if got := run(t, prog, auditArchX86_64, nr(t, specs.ArchX86_64, "personality"), arg); got != want {
			t.Errorf("personality(%d): got %#x, want %#x", arg, got, want)
		}
	}
}

func BenchmarkCompileDockerDefault(b *testing.B) {
	p := dockerProfile(b, dockerCaps)
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFilterPathLength reports how many instructions the kernel runs per
// system call under docker's profile: the binary search keeps it short for
// every call, where a linear filter grows with the call's position.
func TestFilterPathLength(t *testing.T) {
	prog, err := Compile(dockerProfile(t, dockerCaps))
	if err != nil {
		t.Fatal(err)
	}
	worst, total, n := 0, 0, 0
	for name, nr := range sysX86_64() {
		steps := pathLength(t, prog, auditArchX86_64, nr)
		total += steps
		n++
		if steps > worst {
			worst = steps
			t.Logf("longest so far: %s, %d instructions", name, steps)
		}
	}
	t.Logf("x86_64: %d calls, %.1f instructions on average, %d at most", n, float64(total)/float64(n), worst)
	if worst > 64 {
		t.Errorf("a call runs %d instructions: the search is not logarithmic", worst)
	}
}

// pathLength counts the instructions executed for one call (no arguments).
func pathLength(t *testing.T, prog []unix.SockFilter, arch, nr uint32) int {
	steps := 0
	var acc uint32
	data := map[uint32]uint32{0: nr, 4: arch}
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = data[in.K]
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += int(pick(acc == in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			pc += int(pick(acc > in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += int(pick(acc >= in.K, in.Jt, in.Jf))
		case unix.BPF_RET | unix.BPF_K:
			return steps
		}
	}
	t.Fatalf("ran off the end")
	return 0
}
