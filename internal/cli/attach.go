package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdAttach attaches the terminal to a running container's streams.
func NewCmdAttach(opts *Options) *cobra.Command {
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
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
				return &errdefs.ExitError{Code: 1, Err: errdefs.ErrConflict}
			}
			code, err := attachStreams(cmd, eng, c.ID, c.Config.OpenStdin && !noStdin, c.Config.Tty)
			if err != nil {
				return err
			}
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	return cmd
}
