package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// Runtime is the narrow face of an OCI runtime that the engine and monitor
// use. RuncCLI drives any runc-compatible binary; an in-process runtime can
// implement it later.
type Runtime interface {
	// Create sets up container id from bundle with its init blocked before
	// exec, and returns init's pid.
	Create(ctx context.Context, id, bundle string, io CreateIO) (int, error)
	// Start lets init exec the container's process.
	Start(ctx context.Context, id string) error
	// State reports the runtime's view of the container.
	State(ctx context.Context, id string) (*RuntimeState, error)
	// Kill sends sig to init (or, with all, to every process).
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	// Delete removes the runtime's record of the container.
	Delete(ctx context.Context, id string, force bool) error
	// Exec runs p inside the container. Detached, it returns at once with
	// exit code 0 after writing the pid file; otherwise it returns p's exit code.
	Exec(ctx context.Context, id string, p *specs.Process, io ExecIO) (int, error)
}

// CreateIO is the stdio given to a container's init.
type CreateIO struct {
	Stdin, Stdout, Stderr *os.File
	// ConsoleSocket receives the pty master when the process has a terminal.
	ConsoleSocket string
	PidFile       string
}

// ExecIO is the stdio of an exec'd process.
type ExecIO struct {
	Stdin, Stdout, Stderr *os.File
	Detach                bool
	PidFile               string
	ConsoleSocket         string
}

// RuntimeState is `runtime state` output.
type RuntimeState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

// RuncCLI drives a runc-compatible runtime through its command line.
type RuncCLI struct {
	// Binary is the runtime executable (runc, berth-runtime, crun...).
	Binary string
	// Root is the runtime's --root state directory.
	Root string
	// LogDir holds the --log files that carry the runtime's error messages.
	LogDir string
	// Reaper, when set, waits for the runtime's processes (a subreaper
	// must not lose them to its wildcard wait).
	Reaper *Reaper
}

// exitError is a runtime command's non-zero exit.
type exitError struct{ ws syscall.WaitStatus }

func (e *exitError) Error() string {
	if e.ws.Signaled() {
		return "killed by signal " + e.ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(e.ws.ExitStatus())
}

// exec runs cmd to its end, capturing stdout and stderr into the buffers
// given (when cmd has none of its own).
func (r *RuncCLI) exec(cmd *exec.Cmd, stdout, stderr *bytes.Buffer) error {
	if r.Reaper == nil {
		if stdout != nil && cmd.Stdout == nil {
			cmd.Stdout = stdout
		}
		if stderr != nil && cmd.Stderr == nil {
			cmd.Stderr = stderr
		}
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
				return &exitError{ws}
			}
		}
		return err
	}
	// Through the reaper, stdio must be files: capture into temp files.
	var files []*os.File
	capture := func(buf *bytes.Buffer) (*os.File, error) {
		f, err := os.CreateTemp(r.LogDir, "out-")
		if err != nil {
			return nil, err
		}
		os.Remove(f.Name())
		files = append(files, f)
		return f, nil
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var outF, errF *os.File
	var err error
	if stdout != nil && cmd.Stdout == nil {
		if outF, err = capture(stdout); err != nil {
			return err
		}
		cmd.Stdout = outF
	}
	if stderr != nil && cmd.Stderr == nil {
		if errF, err = capture(stderr); err != nil {
			return err
		}
		cmd.Stderr = errF
	}
	ws, err := r.Reaper.Run(cmd)
	if err != nil {
		return err
	}
	for f, buf := range map[*os.File]*bytes.Buffer{outF: stdout, errF: stderr} {
		if f != nil {
			f.Seek(0, io.SeekStart)
			buf.ReadFrom(f)
		}
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	return &exitError{syscall.WaitStatus(ws)}
}

var _ Runtime = (*RuncCLI)(nil)

func (r *RuncCLI) command(ctx context.Context, logFile string, args ...string) *exec.Cmd {
	full := []string{"--root", r.Root}
	if logFile != "" {
		full = append(full, "--log", logFile, "--log-format", "json")
	}
	cmd := exec.CommandContext(ctx, r.Binary, append(full, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a short command and turns a failure into an error carrying the runtime's message.
func (r *RuncCLI) run(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := r.command(ctx, "", args...)
	if err := r.exec(cmd, nil, &stderr); err != nil {
		return runtimeError(args[0], strings.TrimSpace(stderr.String()), err)
	}
	return nil
}

// Create implements Runtime.
func (r *RuncCLI) Create(ctx context.Context, id, bundle string, cio CreateIO) (int, error) {
	logFile := filepath.Join(r.LogDir, id+"-create.log")
	os.MkdirAll(r.LogDir, 0o700)
	os.Remove(logFile)
	defer os.Remove(logFile)
	args := []string{"create", "--bundle", bundle, "--pid-file", cio.PidFile}
	if cio.ConsoleSocket != "" {
		args = append(args, "--console-socket", cio.ConsoleSocket)
	}
	cmd := r.command(ctx, logFile, append(args, id)...)
	cmd.Stdin, cmd.Stdout = cio.Stdin, cio.Stdout
	var stderr bytes.Buffer
	if cio.Stderr != nil {
		cmd.Stderr = cio.Stderr
	}
	if err := r.exec(cmd, nil, &stderr); err != nil {
		msg := lastLogError(logFile)
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		return 0, runtimeError("create", msg, err)
	}
	b, err := os.ReadFile(cio.PidFile)
	if err != nil {
		return 0, fmt.Errorf("reading runtime pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("runtime pid file %s: %w", cio.PidFile, err)
	}
	return pid, nil
}

// Start implements Runtime.
func (r *RuncCLI) Start(ctx context.Context, id string) error { return r.run(ctx, "start", id) }

// State implements Runtime.
func (r *RuncCLI) State(ctx context.Context, id string) (*RuntimeState, error) {
	var stdout, stderr bytes.Buffer
	cmd := r.command(ctx, "", "state", id)
	if err := r.exec(cmd, &stdout, &stderr); err != nil {
		return nil, runtimeError("state", strings.TrimSpace(stderr.String()), err)
	}
	var st RuntimeState
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
		return nil, fmt.Errorf("runtime state %s: %w", id, err)
	}
	return &st, nil
}

// Kill implements Runtime.
func (r *RuncCLI) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	return r.run(ctx, append(args, id, strconv.Itoa(int(sig)))...)
}

// Delete implements Runtime.
func (r *RuncCLI) Delete(ctx context.Context, id string, force bool) error {
	if _, err := os.Stat(filepath.Join(r.Root, id)); errors.Is(err, os.ErrNotExist) {
		return nil // nothing to delete: spare a runtime invocation
	}
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	return r.run(ctx, append(args, id)...)
}

// Exec implements Runtime.
func (r *RuncCLI) Exec(ctx context.Context, id string, p *specs.Process, eio ExecIO) (int, error) {
	os.MkdirAll(r.LogDir, 0o700)
	pf, err := os.CreateTemp(r.LogDir, "exec-*.json")
	if err != nil {
		return -1, err
	}
	defer os.Remove(pf.Name())
	if err := json.NewEncoder(pf).Encode(p); err != nil {
		pf.Close()
		return -1, err
	}
	pf.Close()
	logFile := strings.TrimSuffix(pf.Name(), ".json") + ".log"
	defer os.Remove(logFile)
	args := []string{"exec", "--process", pf.Name()}
	if p.Terminal && eio.ConsoleSocket == "" && !eio.Detach {
		args = append(args, "--tty")
	}
	if eio.ConsoleSocket != "" {
		args = append(args, "--console-socket", eio.ConsoleSocket)
	}
	if eio.Detach {
		args = append(args, "--detach")
	}
	if eio.PidFile != "" {
		args = append(args, "--pid-file", eio.PidFile)
	}
	cmd := r.command(ctx, logFile, append(args, id)...)
	cmd.Stdin = eio.Stdin
	if eio.Stdout != nil {
		cmd.Stdout = eio.Stdout
	}
	if eio.Stderr != nil {
		cmd.Stderr = eio.Stderr
	}
	err = r.exec(cmd, nil, nil)
	if msg := lastLogError(logFile); msg != "" {
		return -1, runtimeError("exec", msg, err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.ws.Signaled() {
			return 128 + int(ee.ws.Signal()), nil
		}
		return ee.ws.ExitStatus(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("running %s exec: %w", r.Binary, err)
	}
	return 0, nil
}

// lastLogError returns the msg of the last error entry of a runtime's JSON log.
func lastLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			msg = e.Msg
		}
	}
	return msg
}

// RuntimeError is a failure reported by the OCI runtime. Its exit code
// follows docker: 127 when the command is not found, 126 when it cannot be
// executed, 125 otherwise.
type RuntimeError struct {
	Op  string
	Msg string
	Err error
}

func (e *RuntimeError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("runtime %s: %s", e.Op, e.Msg)
	}
	return fmt.Sprintf("runtime %s: %v", e.Op, e.Err)
}

// Unwrap returns the sentinel for the failure.
func (e *RuntimeError) Unwrap() error { return e.Err }

// ExitCode maps the runtime's message to docker's exit codes.
func (e *RuntimeError) ExitCode() int {
	m := strings.ToLower(e.Msg)
	switch {
	case strings.Contains(m, "executable file not found"), strings.Contains(m, "no such file or directory") && strings.Contains(m, "exec"):
		return 127
	case strings.Contains(m, "permission denied"), strings.Contains(m, "exec format error"), strings.Contains(m, "is a directory"):
		return 126
	}
	return 125
}

func runtimeError(op, msg string, err error) error {
	var sentinel error = err
	m := strings.ToLower(msg)
	if strings.Contains(m, "does not exist") || strings.Contains(m, "not running") || strings.Contains(m, "no such process") {
		sentinel = fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	}
	return &RuntimeError{Op: op, Msg: msg, Err: sentinel}
}
