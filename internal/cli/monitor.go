package cli

import (
	"context"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/monitor"
)

// NewCmdMonitor is the hidden command a container's monitor runs as.
func NewCmdMonitor(opts *Options) *cobra.Command {
	var waitAttach bool
	cmd := &cobra.Command{
		Use:    "monitor [--wait-attach] CONTAINER-ID",
		Short:  "Keep one container (started by the engine; not for direct use)",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			mo := monitor.Options{WaitAttach: waitAttach}
			if fd, err := strconv.Atoi(os.Getenv("BERTH_MONITOR_SYNC_FD")); err == nil {
				mo.Sync = os.NewFile(uintptr(fd), "sync")
				os.Unsetenv("BERTH_MONITOR_SYNC_FD")
			}
			return monitor.Run(context.WithoutCancel(cmd.Context()), eng, args[0], mo)
		},
	}
	cmd.Flags().BoolVar(&waitAttach, "wait-attach", false, "start the container only once a client attaches")
	return cmd
}
