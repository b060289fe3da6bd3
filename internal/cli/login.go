package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth/berth/pkg/credentials"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/image"
)

// NewCmdLogin is `berth login [SERVER]`.
func NewCmdLogin(opts *Options) *cobra.Command {
	var username, password string
	var passwordStdin bool
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (credentials go to docker's config.json or its credential helper)",
		Long: `Check credentials against a registry (Docker Hub when SERVER is not given)
and store them: with the credential helper docker's config.json names
("credHelpers" for this registry, else "credsStore"), else in config.json
($DOCKER_CONFIG or ~/.docker). Without --username and a password, stored
credentials are tried first, then Username and Password are asked for on
the terminal (the password is not echoed).`,
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
			key, reg, err := credentials.ServerKey(server)
			if err != nil {
				return usageError(cmd, err)
			}
			if err := tf.apply(cmd, reg.RegistryStr()); err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			in := cmd.InOrStdin()
			rt := image.RegistryTransport(nil)
			switch {
			case passwordStdin && password != "":
				return usageError(cmd, errors.New("--password and --password-stdin are mutually exclusive"))
			case passwordStdin && username == "":
				return usageError(cmd, errors.New("must provide --username with --password-stdin"))
			case passwordStdin:
				b, err := io.ReadAll(io.LimitReader(in, 1<<20))
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			case password != "":
				fmt.Fprintln(errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			askUser := username == ""
			if username == "" && password == "" {
				// docker's order: stored credentials that still work first.
				if u, p, found, err := credentials.Get(key); err == nil && found {
					if credentials.Verify(cmd.Context(), server, u, p, rt) == nil {
						fmt.Fprintln(out, "Authenticating with existing credentials...")
						fmt.Fprintln(out, "Login Succeeded")
						return nil
					}
					username = u
				}
			}
			if username == "" || password == "" {
				tty, ok := in.(*os.File)
				if !ok || !term.IsTerminal(int(tty.Fd())) {
					return fmt.Errorf("cannot perform an interactive login from a non TTY device (use --username with --password-stdin): %w", errdefs.ErrInvalidArgument)
				}
				if username, password, err = promptLogin(tty, out, key, username, password, askUser); err != nil {
					return err
				}
			}
			if err := credentials.Login(cmd.Context(), server, username, password, rt); err != nil {
				return err
			}
			fmt.Fprintln(out, "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from STDIN")
	tf.register(cmd)
	return cmd
}

// promptLogin asks on the terminal for what is missing: the username
// (when askUser; offering a stored one) and the password, which is not
// echoed.
func promptLogin(tty *os.File, out io.Writer, key, username, password string, askUser bool) (string, string, error) {
	if askUser {
		// A terminal in canonical mode hands over one line per read, so
		// nothing typed after the username is consumed here.
		r := bufio.NewReader(tty)
		if key == credentials.DockerHubServer {
			fmt.Fprintln(out, "Log in with your Docker ID or email address to push and pull images from Docker Hub.")
		}
		prompt := "Username: "
		if username != "" {
			prompt = fmt.Sprintf("Username (%s): ", username)
		}
		fmt.Fprint(out, prompt)
		line, err := r.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", "", fmt.Errorf("reading the username: %w", err)
		}
		if line = strings.TrimSpace(line); line != "" {
			username = line
		}
		if username == "" {
			return "", "", fmt.Errorf("login: a username is required: %w", errdefs.ErrInvalidArgument)
		}
	}
	if password == "" {
		b, err := readPassword(tty, out, "Password: ")
		fmt.Fprintln(out)
		if err != nil {
			return "", "", fmt.Errorf("reading the password: %w", err)
		}
		password = string(b)
		if password == "" {
			return "", "", fmt.Errorf("login: a password is required: %w", errdefs.ErrInvalidArgument)
		}
	}
	return username, password, nil
}
