package cgroups

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// Values of struct bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h): the low
// 16 bits of access_type are the device type, the high 16 the access.
const (
	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR

	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
)

func accessBits(s string) int32 {
	if s == "" {
		s = "rwm"
	}
	var a int32
	if strings.Contains(s, "r") {
		a |= accRead
	}
	if strings.Contains(s, "w") {
		a |= accWrite
	}
	if strings.Contains(s, "m") {
		a |= accMknod
	}
	return a
}

// deviceFilter compiles OCI device rules into a BPF_PROG_TYPE_CGROUP_DEVICE
// program with v1's semantics: rules apply in order and the last one that
// matches decides, so the program tests them from the last to the first
// and returns on the first match. A request matching no rule is allowed,
// as in a fresh v1 devices cgroup; specs start with "deny all" for that.
//
// An allow rule matches when every requested access is in the rule; a
// deny rule matches when any requested access is in it (denying "w" denies
// a read-write open).
func deviceFilter(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // access_type
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff), // R3: device type
		asm.Mov.Reg32(asm.R4, asm.R2),
		asm.RSh.Imm32(asm.R4, 16),                // R4: access requested
		asm.LoadMem(asm.R5, asm.R1, 4, asm.Word), // R5: major
		asm.LoadMem(asm.R6, asm.R1, 8, asm.Word), // R6: minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		d := rules[i]
		next := fmt.Sprintf("rule%d", i-1)
		if i == 0 {
			next = "nomatch"
		}
		var block asm.Instructions
		switch d.Type {
		case "b":
			block = append(block, asm.JNE.Imm(asm.R3, devBlock, next))
		case "c":
			block = append(block, asm.JNE.Imm(asm.R3, devChar, next))
		case "", "a":
		default:
			return nil, fmt.Errorf("devices[%d].type %q: %w", i, d.Type, errdefs.ErrInvalidArgument)
		}
		acc := accessBits(d.Access)
		if acc != accRead|accWrite|accMknod {
			block = append(block, asm.Mov.Reg32(asm.R7, asm.R4))
			if d.Allow {
				block = append(block,
					asm.And.Imm32(asm.R7, ^acc&7),
					asm.JNE.Imm(asm.R7, 0, next))
			} else {
				block = append(block,
					asm.And.Imm32(asm.R7, acc),
					asm.JEq.Imm(asm.R7, 0, next))
			}
		}
		if !isWild(d.Major) {
			block = append(block, asm.JNE.Imm(asm.R5, int32(*d.Major), next))
		}
		if !isWild(d.Minor) {
			block = append(block, asm.JNE.Imm(asm.R6, int32(*d.Minor), next))
		}
		ret := int32(0)
		if d.Allow {
			ret = 1
		}
		unconditional := len(block) == 0
		block = append(block, asm.Mov.Imm(asm.R0, ret), asm.Return())
		block[0] = block[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, block...)
		if unconditional {
			// A rule for every device decides every request: the rules
			// before it can never match (the verifier rejects dead code).
			return insns, nil
		}
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R0, 1).WithSymbol("nomatch"),
		asm.Return())
	return insns, nil
}

// attachDeviceFilter loads the filter for rules and attaches it to the v2
// cgroup dir, then detaches the filters attached before (an update
// replaces them; in between both apply, so the change never opens a gap).
// The attachment lives as long as the cgroup: it is made with
// BPF_PROG_ATTACH, which needs no pinned file or open descriptor.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, err := deviceFilter(rules)
	if err != nil {
		return err
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "berth_devices",
		Type:         ebpf.CGroupDevice,
		License:      "Apache-2.0",
		Instructions: insns,
	}, ebpf.ProgramOptions{})
	if err != nil {
		return fmt.Errorf("loading the eBPF device filter: %w: %w", err, errdefs.ErrUnavailable)
	}
	defer prog.Close()

	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)

	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("querying device filters of %s: %w: %w", dir, err, errdefs.ErrUnavailable)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attaching the device filter to %s: %w: %w", dir, err, errdefs.ErrUnavailable)
	}
	var errs []error
	for _, p := range old.Programs {
		op, err := ebpf.NewProgramFromID(p.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: op, Attach: ebpf.AttachCGroupDevice})
		op.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("detaching the previous device filters of %s: %w", dir, errors.Join(errs...))
	}
	return nil
}
