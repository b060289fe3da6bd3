package seccomp

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Return values of a seccomp filter (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retDataMask    = 0x0000ffff
)

// Offsets into struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// rule is one way a system call can match: all conds hold (on distinct
// arguments), then the filter returns action.
type rule struct {
	action uint32
	conds  []specs.LinuxSeccompArg
}

// call gathers the rules of one system call number in one ABI.
type call struct {
	nr          uint32
	conditional []rule
	uncond      *uint32
}

// Compile turns an OCI seccomp profile into a classic BPF program for the
// seccomp(2) SECCOMP_SET_MODE_FILTER operation. See the package documentation
// for how ambiguous profiles are read.
func Compile(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	if s == nil {
		return nil, fmt.Errorf("compiling seccomp profile: no profile: %w", errdefs.ErrInvalidArgument)
	}
	if s.ListenerPath != "" || len(s.ListenerMetadata) > 0 {
		return nil, fmt.Errorf("seccomp listenerPath %q: user-space notification is not supported: %w", s.ListenerPath, errdefs.ErrNotImplemented)
	}
	if _, err := flagBits(s.Flags); err != nil {
		return nil, err
	}
	def, err := actionValue(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp defaultAction: %w", err)
	}
	arches, err := selectArches(s.Architectures)
	if err != nil {
		return nil, err
	}
	for i, sc := range s.Syscalls {
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("seccomp syscalls[%d]: no names: %w", i, errdefs.ErrInvalidArgument)
		}
		if _, err := actionValue(sc.Action, sc.ErrnoRet); err != nil {
			return nil, fmt.Errorf("seccomp syscalls[%d] (%s): %w", i, sc.Names[0], err)
		}
		for _, a := range sc.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("seccomp syscalls[%d] (%s): argument index %d out of range 0-5: %w", i, sc.Names[0], a.Index, errdefs.ErrInvalidArgument)
			}
			if !knownOp(a.Op) {
				return nil, fmt.Errorf("seccomp syscalls[%d] (%s): unknown operator %q: %w", i, sc.Names[0], a.Op, errdefs.ErrInvalidArgument)
			}
		}
	}

	a := &asm{rets: map[uint32]int{}}
	// Sections are emitted last to first: the assembler builds the program
	// backwards so every jump target is known when the jump is written.
	bad := a.ret(retKillProcess)
	next := bad
	groups := groupByAudit(arches)
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		body := a.auditGroup(g, s, def)
		a.jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, g[0].audit, lbl(body), lbl(next))
		next = a.here()
	}
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	prog := a.program()
	if len(prog) > maxInsns {
		return nil, fmt.Errorf("seccomp profile compiles to %d instructions, above the kernel's limit of %d: %w", len(prog), maxInsns, errdefs.ErrInvalidArgument)
	}
	return prog, nil
}

// groupByAudit groups ABIs sharing an audit architecture (x86_64 and x32),
// keeping the profile's order.
func groupByAudit(arches []*abi) [][]*abi {
	var groups [][]*abi
outer:
	for _, ab := range arches {
		for i, g := range groups {
			if g[0].audit == ab.audit {
				groups[i] = append(g, ab)
				continue outer
			}
		}
		groups = append(groups, []*abi{ab})
	}
	return groups
}

// auditGroup emits the code run once seccomp_data.arch matched, and returns
// its entry label.
func (a *asm) auditGroup(g []*abi, s *specs.LinuxSeccomp, def uint32) int {
	var low, high, whole *abi
	for _, ab := range g {
		switch ab.split {
		case splitLow:
			low = ab
		case splitHigh:
			high = ab
		default:
			whole = ab
		}
	}
	if whole != nil {
		a.abiSection(whole, s, def) // its entry is the instruction after the load
		a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
		return a.here()
	}
	// x86_64 and x32 share the audit architecture; the x32 bit splits them.
	// A half the profile does not list is an architecture it does not allow.
	hi := target{ret: true, val: retKillProcess}
	if high != nil {
		hi = lbl(a.abiSection(high, s, def))
	}
	lo := target{ret: true, val: retKillProcess}
	if low != nil {
		lo = lbl(a.abiSection(low, s, def))
	}
	a.jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32SyscallBit, hi, lo)
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
	return a.here()
}

// abiSection emits the lookup of the syscall number (already in A) for one
// ABI and returns its entry label.
func (a *asm) abiSection(ab *abi, s *specs.LinuxSeccomp, def uint32) int {
	calls := collect(ab, s, def)
	defT := target{ret: true, val: def}
	var entry int
	if len(calls) == 0 {
		entry = a.ret(def)
	} else {
		entry = a.tree(ab, nodes(calls), defT)
	}
	if def&^retDataMask == retErrno {
		// Calls newer than every call berth knows fail with ENOSYS, so a C
		// library falls back to the older call it would use on an old kernel.
		var maxNr uint32
		for _, nr := range ab.table {
			maxNr = max(maxNr, nr)
		}
		a.jump(unix.BPF_JMP|unix.BPF_JGT|unix.BPF_K, maxNr,
			target{ret: true, val: retErrno | uint32(unix.ENOSYS)}, lbl(entry))
		entry = a.here()
	}
	return entry
}

// collect resolves the profile's rules for one ABI into calls sorted by
// number, dropping rules that only restate the default action.
func collect(ab *abi, s *specs.LinuxSeccomp, def uint32) []*call {
	byNr := make(map[uint32]*call, 512)
	get := func(nr uint32) *call {
		c := byNr[nr]
		if c == nil {
			c = &call{nr: nr}
			byNr[nr] = c
		}
		return c
	}
	for _, sc := range s.Syscalls {
		act, _ := actionValue(sc.Action, sc.ErrnoRet) // validated by Compile
		for _, name := range sc.Names {
			if ab.multiplexed && len(sc.Args) == 0 {
				// The same call through socketcall(2) or ipc(2). Its own
				// arguments sit in memory there, out of a filter's reach, so
				// only rules without conditions carry over (as in libseccomp).
				if n, ok := x86Socketcall[name]; ok {
					c := get(ab.table["socketcall"])
					c.conditional = append(c.conditional, rule{action: act,
						conds: []specs.LinuxSeccompArg{{Index: 0, Value: n, Op: specs.OpEqualTo}}})
				}
				if n, ok := x86IPC[name]; ok {
					// ipc's first argument carries a version in its high 16 bits.
					c := get(ab.table["ipc"])
					c.conditional = append(c.conditional, rule{action: act,
						conds: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffff, ValueTwo: n, Op: specs.OpMaskedEqual}}})
				}
			}
			nr, ok := ab.table[name]
			if !ok {
				continue // unknown to this ABI or newer than berth: skipped, as runc does
			}
			c := get(nr)
			switch {
			case len(sc.Args) == 0:
				if c.uncond == nil {
					c.uncond = &act
				}
			case repeatsIndex(sc.Args):
				for _, arg := range sc.Args {
					c.conditional = append(c.conditional, rule{action: act, conds: []specs.LinuxSeccompArg{arg}})
				}
			default:
				c.conditional = append(c.conditional, rule{action: act, conds: sc.Args})
			}
		}
	}
	calls := make([]*call, 0, len(byNr))
	for _, c := range byNr {
		if c.uncond != nil && *c.uncond == def {
			c.uncond = nil
		}
		// Trailing conditional rules that end where a miss would end anyway
		// change nothing; earlier ones still shadow the rules after them.
		fallback := def
		if c.uncond != nil {
			fallback = *c.uncond
		}
		for n := len(c.conditional); n > 0 && c.conditional[n-1].action == fallback; n-- {
			c.conditional = c.conditional[:n-1]
		}
		if c.uncond == nil && len(c.conditional) == 0 {
			continue
		}
		calls = append(calls, c)
	}
	slices.SortFunc(calls, func(x, y *call) int { return cmp.Compare(x.nr, y.nr) })
	return calls
}

func repeatsIndex(args []specs.LinuxSeccompArg) bool {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			return true
		}
		seen[a.Index] = true
	}
	return false
}

// node is a run of consecutive syscall numbers lo..hi sharing one outcome:
// either a single call with rules (c), or plain calls returning the same action.
type node struct {
	lo, hi uint32
	c      *call
}

// nodes merges runs of consecutive plain calls with the same action, which
// keeps docker's profile (mostly runs of allowed calls) short.
func nodes(calls []*call) []node {
	var out []node
	for _, c := range calls {
		if n := len(out); n > 0 && plain(c) && plain(out[n-1].c) &&
			*out[n-1].c.uncond == *c.uncond && out[n-1].hi+1 == c.nr {
			out[n-1].hi = c.nr
			continue
		}
		out = append(out, node{lo: c.nr, hi: c.nr, c: c})
	}
	return out
}

func plain(c *call) bool { return len(c.conditional) == 0 && c.uncond != nil }

// tree emits a binary search over ns (sorted, disjoint; number in A) and
// returns its entry label. A number matching no node goes to def.
func (a *asm) tree(ab *abi, ns []node, def target) int {
	const (
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	)
	if len(ns) <= 4 {
		bodies := make([]target, len(ns))
		for i := len(ns) - 1; i >= 0; i-- {
			if plain(ns[i].c) {
				bodies[i] = target{ret: true, val: *ns[i].c.uncond}
			} else {
				bodies[i] = lbl(a.body(ab, ns[i].c, def))
			}
		}
		next := def
		for i := len(ns) - 1; i >= 0; i-- {
			n := ns[i]
			if n.lo == n.hi {
				a.jump(jeq, n.lo, bodies[i], next)
			} else {
				// Nodes ascend: a number below lo is below every later node too.
				a.jump(jge, n.lo, bodies[i], def)
				a.jump(jgt, n.hi, next, lbl(a.here()))
			}
			next = lbl(a.here())
		}
		return a.here()
	}
	mid := len(ns) / 2
	right := a.tree(ab, ns[mid:], def)
	left := a.tree(ab, ns[:mid], def)
	a.jump(jge, ns[mid].lo, lbl(right), lbl(left))
	return a.here()
}

// body emits the rules of one call and returns its entry label.
func (a *asm) body(ab *abi, c *call, def target) int {
	var next target
	if c.uncond != nil {
		next = lbl(a.ret(*c.uncond))
	} else {
		next = lbl(a.ret(def.val))
	}
	for i := len(c.conditional) - 1; i >= 0; i-- {
		r := c.conditional[i]
		a.ret(r.action)
		for j := len(r.conds) - 1; j >= 0; j-- {
			a.cond(ab, r.conds[j], lbl(a.here()), next)
		}
		next = lbl(a.here())
	}
	return next.label
}

// cond emits a test of one argument condition that continues at pass when
// it holds and at fail when it does not. Values are compared unsigned, as
// 64-bit numbers split in high and low words (low word only on 32-bit ABIs).
func (a *asm) cond(ab *abi, c specs.LinuxSeccompArg, pass, fail target) {
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		and = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	)
	loOff := uint32(offArgs + 8*c.Index)
	hiOff := loOff + 4
	v, m := c.Value, uint64(0)
	if c.Op == specs.OpMaskedEqual {
		m, v = c.Value, c.ValueTwo
	}
	vlo, vhi := uint32(v), uint32(v>>32)
	mlo, mhi := uint32(m), uint32(m>>32)
	here := func() target { return lbl(a.here()) }

	// The low word test comes last in program order, so it is emitted first.
	switch c.Op {
	case specs.OpEqualTo:
		a.jump(jeq, vlo, pass, fail)
	case specs.OpNotEqual:
		a.jump(jeq, vlo, fail, pass)
	case specs.OpMaskedEqual:
		a.jump(jeq, vlo, pass, fail)
		a.stmt(and, mlo)
	case specs.OpGreaterThan:
		a.jump(jgt, vlo, pass, fail)
	case specs.OpGreaterEqual:
		a.jump(jge, vlo, pass, fail)
	case specs.OpLessThan:
		a.jump(jge, vlo, fail, pass)
	case specs.OpLessEqual:
		a.jump(jgt, vlo, fail, pass)
	}
	a.stmt(ld, loOff)
	if ab.arg32 {
		return
	}
	lowTest := here()
	switch c.Op {
	case specs.OpEqualTo:
		a.jump(jeq, vhi, lowTest, fail)
	case specs.OpNotEqual:
		a.jump(jeq, vhi, lowTest, pass)
	case specs.OpMaskedEqual:
		a.jump(jeq, vhi, lowTest, fail)
		a.stmt(and, mhi)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// hi > v: holds; hi == v: decided by the low word; hi < v: fails.
		a.jump(jeq, vhi, lowTest, fail)
		a.jump(jgt, vhi, pass, here())
	case specs.OpLessThan, specs.OpLessEqual:
		a.jump(jeq, vhi, lowTest, pass)
		a.jump(jgt, vhi, fail, here())
	}
	a.stmt(ld, hiOff)
}

func knownOp(op specs.LinuxSeccompOperator) bool {
	switch op {
	case specs.OpEqualTo, specs.OpNotEqual, specs.OpMaskedEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
		return true
	}
	return false
}

// actionValue maps an OCI action to the filter's return value.
func actionValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := func() (uint32, error) {
		if errnoRet == nil {
			return uint32(unix.EPERM), nil
		}
		if *errnoRet > retDataMask {
			return 0, fmt.Errorf("errnoRet %d out of range: %w", *errnoRet, errdefs.ErrInvalidArgument)
		}
		return uint32(*errnoRet), nil
	}
	noData := func(v uint32) (uint32, error) {
		if errnoRet != nil {
			return 0, fmt.Errorf("errnoRet given with action %s, which takes none: %w", act, errdefs.ErrInvalidArgument)
		}
		return v, nil
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return noData(retKillThread)
	case specs.ActKillProcess:
		return noData(retKillProcess)
	case specs.ActTrap:
		return noData(retTrap)
	case specs.ActAllow:
		return noData(retAllow)
	case specs.ActLog:
		return noData(retLog)
	case specs.ActErrno:
		d, err := data()
		return retErrno | d, err
	case specs.ActTrace:
		d, err := data()
		return retTrace | d, err
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s: user-space notification is not supported: %w", act, errdefs.ErrNotImplemented)
	case "":
		return 0, fmt.Errorf("no action: %w", errdefs.ErrInvalidArgument)
	}
	return 0, fmt.Errorf("unknown action %q: %w", act, errdefs.ErrInvalidArgument)
}

// knownArches are the architecture names of the runtime spec. Those berth has
// no tables for cannot run on the hosts berth supports and are skipped.
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
}

func selectArches(names []specs.Arch) ([]*abi, error) {
	if len(names) == 0 {
		names = nativeArches()
		if len(names) == 0 {
			return nil, fmt.Errorf("seccomp: no architecture given and berth has no tables for this one: %w", errdefs.ErrNotImplemented)
		}
	}
	var out []*abi
	for _, n := range names {
		if !slices.Contains(knownArches, n) {
			return nil, fmt.Errorf("seccomp: unknown architecture %q: %w", n, errdefs.ErrInvalidArgument)
		}
		ab := abiOf(n)
		if ab == nil || slices.Contains(out, ab) {
			continue
		}
		out = append(out, ab)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("seccomp: none of the architectures %v is supported: %w", names, errdefs.ErrNotImplemented)
	}
	return out, nil
}

// target is where a jump goes: an emitted instruction, or "return val"
// (an existing return instruction within reach is reused).
type target struct {
	label int
	ret   bool
	val   uint32
}

func lbl(l int) target { return target{label: l} }

// asm assembles a BPF program backwards. A label is an instruction's index
// in rev (0 is the program's last instruction), so the distance from an
// instruction being emitted to any earlier emitted one is known at once.
type asm struct {
	rev  []unix.SockFilter
	rets map[uint32]int // return value -> label of a return instruction
}

// here is the label of the most recently emitted instruction, which is the
// one that follows the next emitted instruction in program order.
func (a *asm) here() int { return len(a.rev) - 1 }

func (a *asm) stmt(code uint16, k uint32) int {
	a.rev = append(a.rev, unix.SockFilter{Code: code, K: k})
	return a.here()
}

// ret emits "return v" and returns its label.
func (a *asm) ret(v uint32) int {
	l := a.stmt(unix.BPF_RET|unix.BPF_K, v)
	a.rets[v] = l
	return l
}

// dist is the jump offset from the next emitted instruction to label l.
func (a *asm) dist(l int) int { return len(a.rev) - l - 1 }

// resolve turns t into a label reachable from the next emitted conditional
// jump, placing a return or an unconditional jump right after it if needed.
func (a *asm) resolve(t target) int {
	if t.ret {
		if l, ok := a.rets[t.val]; ok && a.dist(l) <= 255 {
			return l
		}
		return a.ret(t.val)
	}
	if a.dist(t.label) <= 255 {
		return t.label
	}
	a.rev = append(a.rev, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(a.dist(t.label))})
	return a.here()
}

// jump emits a conditional jump to jt when the test holds, else to jf.
func (a *asm) jump(code uint16, k uint32, jt, jf target) {
	for {
		t := a.resolve(jt)
		f := a.resolve(jf)
		if a.dist(t) <= 255 && a.dist(f) <= 255 {
			a.rev = append(a.rev, unix.SockFilter{Code: code, K: k, Jt: uint8(a.dist(t)), Jf: uint8(a.dist(f))})
			return
		}
		// Placing f's trampoline pushed t out of reach: go again with both
		// now as labels, which resolve adds trampolines for.
		jt, jf = lbl(t), lbl(f)
	}
}

// program returns the instructions in execution order.
func (a *asm) program() []unix.SockFilter {
	out := slices.Clone(a.rev)
	slices.Reverse(out)
	return out
}
