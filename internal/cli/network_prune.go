package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdNetworkPrune removes every user-defined network no container uses.
func NewCmdNetworkPrune(opts *Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			removed, err := m.Prune(cmd.Context())
			out := cmd.OutOrStdout()
			if len(removed) > 0 {
				fmt.Fprintln(out, "Deleted Networks:")
				for _, name := range removed {
					fmt.Fprintln(out, name)
				}
			}
			return err
		},
	}
	// docker asks for confirmation without -f; berth never prompts, so -f is accepted and changes nothing.
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation (berth never prompts)")
	return cmd
}
