package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// Features describes what this package supports, for the runtime's
// `features` command: actions, operators, architectures and filter flags
// (SupportedFlags are those the running kernel accepts).
func Features() *features.Seccomp {
	enabled := true
	f := &features.Seccomp{
		Enabled: &enabled,
		Actions: []string{
			string(specs.ActKill), string(specs.ActKillProcess), string(specs.ActKillThread),
			string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace),
			string(specs.ActAllow), string(specs.ActLog),
		},
		Operators: []string{
			string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
			string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
			string(specs.OpMaskedEqual),
		},
		KnownFlags: []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow)},
	}
	for a := range abiDefs {
		f.Archs = append(f.Archs, string(a))
	}
	slices.Sort(f.Archs)
	for _, fl := range []struct {
		name specs.LinuxSeccompFlag
		bit  uintptr
	}{{specs.LinuxSeccompFlagLog, flagLog}, {specs.LinuxSeccompFlagSpecAllow, flagSpecAllow}} {
		if flagSupported(fl.bit) {
			f.SupportedFlags = append(f.SupportedFlags, string(fl.name))
		}
	}
	return f
}

// flagSupported asks the kernel about a filter flag without loading
// anything: with a NULL program a known flag fails with EFAULT when the
// program is copied, an unknown one with EINVAL before.
func flagSupported(bit uintptr) bool {
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter, bit, 0)
	return errno == unix.EFAULT
}
