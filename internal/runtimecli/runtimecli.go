// Package runtimecli is the command line of berth-runtime, berth's
// runc-compatible OCI runtime. It links only the runtime (pkg/runtime,
// pkg/cgroups, pkg/seccomp, cobra, runtime-spec) so that the separate
// berth-runtime binary, and the container init it re-executes, start fast;
// the full berth binary mounts the same tree as `berth runtime`.
package runtimecli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/version"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// Name is the program name of the runtime binary.
const Name = "berth-runtime"

// Main runs the berth-runtime command line given in args (args[0] is the
// program name) and returns the process exit code. It never exits itself.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Execute(ctx, NewRuntimeCmd(Name), Name, args, stdout, stderr)
}

// Execute runs cmd on args (args[0] is the program name) the way both
// berth binaries do: errors as one "name: error" line on stderr, docker's
// exit codes returned, never exiting itself.
func Execute(ctx context.Context, cmd *cobra.Command, name string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		args = args[1:]
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetIn(nil)
	err := cmd.ExecuteContext(ctx)
	if err != nil && err.Error() != "" {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	return errdefs.ExitCode(err)
}

// RuntimeOptions are runc's global flags, which callers (containerd's shim,
// conmon) put before the subcommand.
type RuntimeOptions struct {
	Root          string
	Log           string
	LogFormat     string
	Debug         bool
	SystemdCgroup bool
	Rootless      string
	Criu          string
}

// runtime opens the state root the global flags name.
func (o *RuntimeOptions) runtime() (*runtime.Runtime, error) {
	if o.SystemdCgroup {
		return nil, fmt.Errorf("--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs paths")
	}
	return runtime.New(o.Root)
}

// logError appends err to the --log file the way runc does, as one JSON
// line {"level","msg","time"} (or logrus text), because containerd's shim
// and conmon read the last error from it.
func (o *RuntimeOptions) logError(err error) {
	if o.Log == "" || err == nil || err.Error() == "" {
		return
	}
	f, ferr := os.OpenFile(o.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	now := time.Now().Format(time.RFC3339Nano)
	if o.LogFormat == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{"error", err.Error(), now})
		f.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, err.Error())
}

// NewRuntimeCmd builds the runc-compatible OCI runtime command line. It is
// the root command when the program runs as berth-runtime and `berth runtime`
// otherwise.
func NewRuntimeCmd(use string) *cobra.Command {
	ropts := &RuntimeOptions{}
	cmd := &cobra.Command{
		Use:               use,
		Short:             "A runc-compatible OCI runtime (also installed as berth-runtime)",
		SilenceUsage:      true,
		SilenceErrors:     true,
		Version:           version.Get().Version,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cmd.SetVersionTemplate(fmt.Sprintf("%s version {{.Version}}\ncommit: %s\nspec: %s\n", use, version.Get().Commit, specs.Version))
	cmd.SetFlagErrorFunc(usageError)
	f := cmd.PersistentFlags()
	f.StringVar(&ropts.Root, "root", "/run/berth-runtime", "root directory for storage of container state (this should be located in tmpfs)")
	f.StringVar(&ropts.Log, "log", "", "write error messages to this file as well as stderr")
	f.StringVar(&ropts.LogFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&ropts.Debug, "debug", false, "enable debug logging")
	f.BoolVar(&ropts.SystemdCgroup, "systemd-cgroup", false, "use systemd to manage cgroups (not supported)")
	f.StringVar(&ropts.Rootless, "rootless", "auto", "ignore cgroup permission errors (accepted for compatibility; berth-runtime runs as root)")
	f.StringVar(&ropts.Criu, "criu", "criu", "path to criu (accepted for compatibility; checkpoint is not supported)")
	cmd.AddCommand(
		NewCmdRuntimeCreate(ropts),
		NewCmdRuntimeStart(ropts),
		NewCmdRuntimeState(ropts),
		NewCmdRuntimeKill(ropts),
		NewCmdRuntimeDelete(ropts),
		NewCmdRuntimeRun(ropts),
		NewCmdRuntimeExec(ropts),
		NewCmdRuntimeList(ropts),
		NewCmdRuntimePs(ropts),
		NewCmdRuntimePause(ropts),
		NewCmdRuntimeResume(ropts),
		NewCmdRuntimeUpdate(ropts),
		NewCmdRuntimeEvents(ropts),
		NewCmdRuntimeFeatures(ropts),
		NewCmdRuntimeSpec(ropts),
	)
	for _, c := range cmd.Commands() {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			ropts.logError(err)
			return err
		}
	}
	return cmd
}
