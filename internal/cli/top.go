package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdTop lists a container's processes.
func NewCmdTop(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			c, err := eng.Load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !c.State.Running {
				return fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrConflict)
			}
			procs, err := engine.Top(c.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 4, 1, 3, ' ', 0)
			fmt.Fprintln(tw, "UID\tPID\tPPID\tSTIME\tTIME\tCMD")
			for _, p := range procs {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\n", p.UID, p.PID, p.PPID, p.Start.Format("15:04"), p.CPUTime, p.Cmd)
			}
			return tw.Flush()
		},
	}
}
