package runtimecli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/runtime"
)

// NewCmdRuntimeFeatures is `features`: what this runtime supports, as JSON.
func NewCmdRuntimeFeatures(ropts *RuntimeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print the features this runtime supports (JSON)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := json.MarshalIndent(runtime.Features(), "", "    ")
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
}
