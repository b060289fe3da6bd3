package runtimecli

import "github.com/spf13/cobra"

// NewCmdRuntimeResume is `resume`: thaw a paused container.
func NewCmdRuntimeResume(ropts *RuntimeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "resume CONTAINER",
		Short: "Resume a paused container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			return rt.Resume(args[0])
		},
	}
}
