package cgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// The cgroup v2 device filter is a small eBPF program assembled here and
// loaded with the bpf(2) system call directly: an eBPF library would link
// an ELF and BTF loader, a Go parser and crypto into every runtime process
// (and container init) for the ten-odd instructions this needs.

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

// bpfInsn is one eBPF instruction (struct bpf_insn).
type bpfInsn struct {
	op   uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

// eBPF opcodes and registers the filter uses (include/uapi/linux/bpf.h).
const (
	opLdxW    = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opMov32X  = 0xbc // BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src
	opAnd32K  = 0x54 // BPF_ALU | BPF_AND | BPF_K: dst &= imm
	opRsh32K  = 0x74 // BPF_ALU | BPF_RSH | BPF_K: dst >>= imm
	opMov64K  = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	opJeqK    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: if dst == imm goto pc+off
	opJneK    = 0x55 // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc+off
	opExit    = 0x95 // BPF_JMP | BPF_EXIT
	r0, r1    = 0, 1
	r2, r3    = 2, 3
	r4, r5    = 4, 5
	r6, r7    = 6, 7
	toNext    = -1 // placeholder offset: the start of the next rule
	insnBytes = 8
)

func ins(op, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{op: op, regs: dst | src<<4, off: off, imm: imm}
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
func deviceFilter(rules []specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	insns := []bpfInsn{
		ins(opLdxW, r2, r1, 0, 0), // access_type
		ins(opMov32X, r3, r2, 0, 0),
		ins(opAnd32K, r3, 0, 0, 0xffff), // R3: device type
		ins(opMov32X, r4, r2, 0, 0),
		ins(opRsh32K, r4, 0, 0, 16), // R4: access requested
		ins(opLdxW, r5, r1, 4, 0),   // R5: major
		ins(opLdxW, r6, r1, 8, 0),   // R6: minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		d := rules[i]
		var block []bpfInsn
		switch d.Type {
		case "b":
			block = append(block, ins(opJneK, r3, 0, toNext, devBlock))
		case "c":
			block = append(block, ins(opJneK, r3, 0, toNext, devChar))
		case "", "a":
		default:
			return nil, fmt.Errorf("devices[%d].type %q: %w", i, d.Type, errdefs.ErrInvalidArgument)
		}
		acc := accessBits(d.Access)
		if acc != accRead|accWrite|accMknod {
			block = append(block, ins(opMov32X, r7, r4, 0, 0))
			if d.Allow {
				block = append(block,
					ins(opAnd32K, r7, 0, 0, ^acc&7),
					ins(opJneK, r7, 0, toNext, 0))
			} else {
				block = append(block,
					ins(opAnd32K, r7, 0, 0, acc),
					ins(opJeqK, r7, 0, toNext, 0))
			}
		}
		if !isWild(d.Major) {
			block = append(block, ins(opJneK, r5, 0, toNext, int32(*d.Major)))
		}
		if !isWild(d.Minor) {
			block = append(block, ins(opJneK, r6, 0, toNext, int32(*d.Minor)))
		}
		ret := int32(0)
		if d.Allow {
			ret = 1
		}
		unconditional := len(block) == 0
		block = append(block, ins(opMov64K, r0, 0, 0, ret), ins(opExit, 0, 0, 0, 0))
		for j := range block {
			if block[j].op != opExit && block[j].op&0x07 == 0x05 && block[j].off == toNext {
				block[j].off = int16(len(block) - j - 1) // to the first instruction after the block
			}
		}
		insns = append(insns, block...)
		if unconditional {
			// A rule for every device decides every request: the rules
			// before it can never match (the verifier rejects dead code).
			return insns, nil
		}
	}
	insns = append(insns, ins(opMov64K, r0, 0, 0, 1), ins(opExit, 0, 0, 0, 0))
	return insns, nil
}

// encode lays the program out as the kernel reads it (little-endian hosts
// and big-endian ones alike: the fields are in host order).
func encode(insns []bpfInsn) []byte {
	b := make([]byte, 0, len(insns)*insnBytes)
	for _, in := range insns {
		regs := in.regs
		if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
			regs = in.regs<<4 | in.regs>>4 // big-endian bitfields: dst in the high nibble
		}
		b = append(b, in.op, regs)
		b = binary.NativeEndian.AppendUint16(b, uint16(in.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}

// bpf(2) commands, program and attach types (include/uapi/linux/bpf.h).
const (
	bpfProgLoad        = 5
	bpfProgAttach      = 8
	bpfProgDetach      = 9
	bpfProgGetFDByID   = 13
	bpfProgQuery       = 16
	progTypeCgroupDev  = 15 // BPF_PROG_TYPE_CGROUP_DEVICE
	attachCgroupDevice = 6  // BPF_CGROUP_DEVICE
	fAllowMulti        = 2  // BPF_F_ALLOW_MULTI
)

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// progAttachAttr is the BPF_PROG_ATTACH and BPF_PROG_DETACH part.
type progAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

// progQueryAttr is the BPF_PROG_QUERY part.
type progQueryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// getFDByIDAttr is the BPF_PROG_GET_FD_BY_ID part.
type getFDByIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
		if e == unix.EINTR || e == unix.EAGAIN {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

// loadDeviceFilter loads insns and returns the program's fd. When the
// verifier refuses it, the error carries the verifier's log.
func loadDeviceFilter(insns []bpfInsn) (int, error) {
	code := encode(insns)
	license := []byte("Apache-2.0\x00")
	attr := progLoadAttr{
		progType: progTypeCgroupDev,
		insnCnt:  uint32(len(insns)),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "berth_devices")
	fd, err := bpf(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		// Once more with the verifier's log, to say why.
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
		if fd2, err2 := bpf(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 == nil {
			unix.Close(fd2)
		} else if msg := strings.TrimSpace(string(log[:clen(log)])); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		goruntime.KeepAlive(log)
	}
	goruntime.KeepAlive(code)
	goruntime.KeepAlive(license)
	return fd, err
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// queryDeviceFilters lists the ids of the device programs attached to the
// cgroup dir open at fd.
func queryDeviceFilters(fd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	for {
		attr := progQueryAttr{
			targetFD:   uint32(fd),
			attachType: attachCgroupDevice,
			progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpf(bpfProgQuery, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		goruntime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) {
			ids = make([]uint32, attr.progCnt)
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
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
	prog, err := loadDeviceFilter(insns)
	if err != nil {
		return fmt.Errorf("loading the eBPF device filter: %w: %w", err, errdefs.ErrUnavailable)
	}
	defer unix.Close(prog)

	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)

	old, err := queryDeviceFilters(fd)
	if err != nil {
		return fmt.Errorf("querying device filters of %s: %w: %w", dir, err, errdefs.ErrUnavailable)
	}
	attach := progAttachAttr{targetFD: uint32(fd), attachBPFFD: uint32(prog), attachType: attachCgroupDevice, attachFlags: fAllowMulti}
	if _, err := bpf(bpfProgAttach, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("attaching the device filter to %s: %w: %w", dir, err, errdefs.ErrUnavailable)
	}
	var errs []error
	for _, id := range old {
		get := getFDByIDAttr{id: id}
		op, err := bpf(bpfProgGetFDByID, unsafe.Pointer(&get), unsafe.Sizeof(get))
		if err != nil {
			errs = append(errs, fmt.Errorf("program %d: %w", id, err))
			continue
		}
		detach := progAttachAttr{targetFD: uint32(fd), attachBPFFD: uint32(op), attachType: attachCgroupDevice}
		_, err = bpf(bpfProgDetach, unsafe.Pointer(&detach), unsafe.Sizeof(detach))
		unix.Close(op)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("detaching the previous device filters of %s: %w", dir, errors.Join(errs...))
	}
	return nil
}
