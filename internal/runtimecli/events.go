package runtimecli

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/runtime"
)

// NewCmdRuntimeEvents is `events`: stats and OOM notices as JSON lines.
func NewCmdRuntimeEvents(ropts *RuntimeOptions) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [--stats] [--interval D] CONTAINER",
		Short: "Print container events (stats, oom) as JSON lines",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			if stats {
				ev, err := rt.Stats(args[0])
				if err != nil {
					return err
				}
				return enc.Encode(ev)
			}
			return rt.Events(cmd.Context(), args[0], interval, func(ev *runtime.Event) error { return enc.Encode(ev) })
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the container's stats once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "interval between stats events")
	return cmd
}
