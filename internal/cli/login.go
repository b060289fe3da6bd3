package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/credentials"
	"github.com/berth/berth/pkg/image"
)

// NewCmdLogin is `berth login [SERVER]`.
func NewCmdLogin(opts *Options) *cobra.Command {
	var username, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (credentials go to docker's config.json)",
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
			if passwordStdin {
				if password != "" {
					return usageError(cmd, errors.New("--password and --password-stdin are mutually exclusive"))
				}
				var in io.Reader = cmd.InOrStdin()
				if in == nil {
					in = os.Stdin
				}
				line, err := bufio.NewReader(in).ReadString('\n')
				if err != nil && err != io.EOF {
					return err
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if username == "" || password == "" {
				return usageError(cmd, errors.New("login needs --username and --password or --password-stdin (interactive prompts are not supported)"))
			}
			if err := credentials.Login(cmd.Context(), server, username, password, image.RegistryTransport(nil)); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from STDIN")
	return cmd
}
