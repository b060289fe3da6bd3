package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdWait waits for containers to stop and prints their exit codes.
func NewCmdWait(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			for _, ref := range args {
				code, err := eng.Wait(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
			}
			return nil
		},
	}
}
