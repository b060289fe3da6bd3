package runtimecli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/runtime"
)

// runtimeCreateFlags are the flags create and run share.
type runtimeCreateFlags struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (c *runtimeCreateFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.StringVar(&c.pidFile, "pid-file", "", "file to write the container init's pid to")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master (SCM_RIGHTS)")
	f.BoolVar(&c.noPivot, "no-pivot", false, "do not use pivot_root (MS_MOVE and chroot instead)")
	f.BoolVar(&c.noNewKeyring, "no-new-keyring", false, "do not create a new session keyring")
	f.IntVar(&c.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors (from 3) to the container")
}

func (c *runtimeCreateFlags) options() *runtime.CreateOptions {
	return &runtime.CreateOptions{
		Bundle: c.bundle, PidFile: c.pidFile, ConsoleSocket: c.consoleSocket,
		NoPivot: c.noPivot, NoNewKeyring: c.noNewKeyring, PreserveFDs: c.preserveFDs,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}
}

// NewCmdRuntimeCreate is `create`: set a container up, its init waiting for start.
func NewCmdRuntimeCreate(ropts *RuntimeOptions) *cobra.Command {
	var cf runtimeCreateFlags
	cmd := &cobra.Command{
		Use:   "create [flags] CONTAINER",
		Short: "Create a container (its process waits for `start`)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			_, err = rt.Create(args[0], cf.options())
			return err
		},
	}
	cf.add(cmd)
	return cmd
}
