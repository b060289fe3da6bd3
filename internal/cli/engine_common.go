package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// openEngine opens the container engine under the global state roots.
func openEngine(opts *Options) (*engine.Engine, error) {
	// berth-runtime runs in process (this binary is its re-executed init);
	// BERTH_NO_FASTPATH=1 execs it like any other runtime.
	eo := engine.Options{Root: opts.Root, RunRoot: opts.RunRoot, Runtime: defaultRuntime(), FastPath: os.Getenv("BERTH_NO_FASTPATH") == ""}
	if err := engineBackends(opts, &eo); err != nil {
		return nil, err
	}
	eo.MonitorCommand = leanMonitor(opts, eo.Runtime)
	return engine.New(eo)
}

// spawnMonitor starts the lean monitor of a container yet to be created,
// before the engine is opened (engine.SpawnMonitorCommand), or returns nil
// (runContainer then asks the engine for one).
func spawnMonitor(opts *Options, waitAttach bool) *engine.PendingMonitor {
	argv := leanMonitor(opts, defaultRuntime())
	if argv == nil {
		return nil
	}
	p, err := engine.SpawnMonitorCommand(argv, waitAttach)
	if err != nil {
		return nil
	}
	return p
}

// MonitorName is the lean monitor program (cmd/berth-monitor), installed
// beside berth; without it, containers are kept by `berth monitor`.
const MonitorName = "berth-monitor"

// leanMonitor is the argv that starts berth-monitor beside this
// executable, or nil (the engine's default: `berth monitor`).
func leanMonitor(opts *Options, runtime string) []string {
	self, err := os.Executable()
	if err != nil || os.Getenv("BERTH_NO_LEAN_MONITOR") != "" {
		return nil
	}
	p := filepath.Join(filepath.Dir(self), MonitorName)
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	root, err1 := filepath.Abs(opts.Root)
	runroot, err2 := filepath.Abs(opts.RunRoot)
	if err1 != nil || err2 != nil {
		return nil
	}
	return []string{p, "--root", root, "--runroot", runroot, "--berth", self, "--runtime", runtime, "monitor"}
}

// defaultRuntime is BERTH_RUNTIME, else berth's own runtime (berth-runtime
// beside this executable), else runc.
func defaultRuntime() string {
	if name := os.Getenv("BERTH_RUNTIME"); name != "" {
		return resolveRuntime(name)
	}
	if p := siblingRuntime(); p != "" {
		return p
	}
	return resolveRuntime("runc")
}

// siblingRuntime is berth-runtime beside this executable, or "".
func siblingRuntime() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(self), RuntimeName)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// resolveRuntime turns a runtime name into a path: berth-runtime beside
// this executable (the same build), or a name on PATH.
func resolveRuntime(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	if name == RuntimeName {
		if p := siblingRuntime(); p != "" {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// engineError gives an engine failure docker's exit code 125 unless it
// already carries one.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	var ec errdefs.ExitCoder
	if e, ok := err.(errdefs.ExitCoder); ok {
		ec = e
	}
	if ec != nil || asExitCoder(err) {
		return err
	}
	return &errdefs.ExitError{Code: 125, Err: err}
}

func asExitCoder(err error) bool {
	for err != nil {
		if _, ok := err.(errdefs.ExitCoder); ok {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// formatFuncs are the template functions docker's --format offers.
var formatFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"split":   strings.Split,
	"println": func(v ...any) string { return fmt.Sprintln(v...) },
}

// parseFormat compiles a --format Go template.
func parseFormat(cmd *cobra.Command, format string) (*template.Template, error) {
	t, err := template.New("format").Funcs(formatFuncs).Parse(format)
	if err != nil {
		return nil, usageError(cmd, fmt.Errorf("invalid --format: %w", err))
	}
	return t, nil
}

// fileFor returns w as an *os.File (what the runtime needs for stdio),
// copying through a pipe when it is not one.
func fileFor(w io.Writer) (*os.File, func(), error) {
	if f, ok := w.(*os.File); ok {
		return f, func() {}, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { io.Copy(w, r); r.Close(); close(done) }()
	return pw, func() { pw.Close(); <-done }, nil
}
