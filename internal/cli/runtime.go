package cli

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/version"
)

// RuntimeOptions are runc's global flags, which callers (containerd's shim,
// conmon) put before the subcommand.
type RuntimeOptions struct {
	Root          string
	Log           string
	LogFormat     string
	Debug         bool
	SystemdCgroup bool
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
	return cmd
}
