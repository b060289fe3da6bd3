package runtimecli

import (
	"encoding/json"

	"github.com/spf13/cobra"
)

// NewCmdRuntimeState is `state`: the container's state as runc prints it.
func NewCmdRuntimeState(ropts *RuntimeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "state CONTAINER",
		Short: "Print the state of a container as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			st, err := rt.State(args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(st, "", "  ")
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
}
