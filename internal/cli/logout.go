package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/credentials"
)

// NewCmdLogout is `berth logout [SERVER]`.
func NewCmdLogout(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(cmd, fmt.Errorf("%q accepts at most 1 argument", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			server := credentials.DockerHubServer
			if len(args) == 1 {
				server = args[0]
			}
			key, _, err := credentials.ServerKey(server)
			if err != nil {
				return err
			}
			found, err := credentials.Logout(server)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
