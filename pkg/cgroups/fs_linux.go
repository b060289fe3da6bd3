package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// writeFile writes value to an existing cgroup control file. Control files
// are never created: a missing one means the host lacks the feature.
// (Plain system calls, not an *os.File: control files cannot be polled,
// and os would try to register each with its poller first.)
func writeFile(dir, file, value string) error {
	path := filepath.Join(dir, file)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	for {
		_, err = unix.Write(fd, []byte(value))
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(fd)
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// setFile writes value to dir/file for spec field fld and turns the
// kernel's refusal into a FieldError: a missing file is ErrUnavailable, a
// refused value ErrInvalidArgument.
func setFile(fld, dir, file, value string) error {
	err := writeFile(dir, file, value)
	if err == nil {
		return nil
	}
	kind := errdefs.ErrInvalidArgument
	msg := fmt.Sprintf("writing %q to %s", value, filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		kind = errdefs.ErrUnavailable
		msg = fmt.Sprintf("this host has no %s (controller or kernel feature missing)", file)
	}
	return &FieldError{Field: fld, Kind: kind, Msg: msg, Err: unwrapPath(err)}
}

// unwrapPath drops the *PathError around a syscall error (the message
// names the file already).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readString returns the trimmed content of dir/file.
func readString(dir, file string) (string, error) {
	path := filepath.Join(dir, file)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = append(b, buf[:n]...)
	}
	return string(bytes.TrimSpace(b)), nil
}

// readUint reads a single number; "max" (v2) reads as math.MaxUint64.
func readUint(dir, file string) (uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return 0, err
	}
	return parseUint(s)
}

func parseUint(s string) (uint64, error) {
	if s == "max" {
		return ^uint64(0), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 reports "no limit" as a large value; negative counters are 0.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("parsing %q: %w", s, err)
	}
	return v, nil
}

// readKV reads a "key value" per line file (memory.stat, cpu.stat).
func readKV(dir, file string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		n, err := parseUint(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		m[k] = n
	}
	return m, sc.Err()
}

// readPids reads a cgroup.procs file.
func readPids(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parsing %s/cgroup.procs: %w", dir, err)
		}
		pids = append(pids, p)
	}
	return pids, nil
}
