package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdNetworkRm removes networks, going on past failures as docker does.
func NewCmdNetworkRm(opts *Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := m.Remove(cmd.Context(), ref); err != nil {
					if !force {
						errs = append(errs, err)
					}
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not error if a network does not exist or is in use")
	return cmd
}
