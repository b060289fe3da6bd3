package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/monitor"
)

// NewCmdMonitor is the hidden command a container's monitor runs as when
// the lean berth-monitor is not installed; with --do it serves the lean
// monitor's operations that need the image store or the network manager.
func NewCmdMonitor(opts *Options) *cobra.Command {
	var waitAttach, prepared, watch bool
	var do string
	cmd := &cobra.Command{
		Use:    "monitor [--wait-attach] [--prepared] [--watch] [--do OP] CONTAINER-ID",
		Short:  "Keep one container (started by the engine; not for direct use)",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			ctx := context.WithoutCancel(cmd.Context())
			switch {
			case do != "":
				return eng.ServeHelper(ctx, do, args[0])
			case watch:
				pid, err := strconv.Atoi(os.Getenv("BERTH_WATCH_PID"))
				if err != nil {
					return fmt.Errorf("watchdog without BERTH_WATCH_PID: %w", err)
				}
				return eng.Watch(ctx, args[0], pid)
			}
			mo := monitor.Options{WaitAttach: waitAttach, Prepared: prepared}
			id, err := monitor.Inherit(eng, args[0], &mo)
			if err != nil {
				if errors.Is(err, errdefs.ErrNotFound) {
					return nil // started ahead, then not needed
				}
				return err
			}
			return monitor.Run(ctx, eng, id, mo)
		},
	}
	cmd.Flags().BoolVar(&waitAttach, "wait-attach", false, "start the container only once a client attaches")
	cmd.Flags().BoolVar(&prepared, "prepared", false, "the starter prepared the first run and holds the monitor lock")
	cmd.Flags().BoolVar(&watch, "watch", false, "be the watchdog of the container's monitor (the parent)")
	cmd.Flags().StringVar(&do, "do", "", "perform an engine operation for a lean monitor: "+engine.HelperPrepare+", "+engine.HelperCleanup+" or "+engine.HelperRemove)
	return cmd
}
