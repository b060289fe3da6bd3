package cli

import (
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdExec runs a command in a running container.
func NewCmdExec(opts *Options) *cobra.Command {
	var eo engine.ExecOptions
	var interactive bool
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eo.Cmd = args[1:]
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			stdin, _ := os.Open(os.DevNull)
			defer stdin.Close()
			if interactive {
				if f, ok := cmd.InOrStdin().(*os.File); ok {
					stdin = f
				} else {
					stdin = os.Stdin
				}
			}
			if eo.Tty && !term.IsTerminal(int(stdin.Fd())) {
				eo.Tty = false // docker refuses; berth runs without a terminal
			}
			stdout, doneOut, err := fileFor(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			stderr, doneErr, err := fileFor(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			code, err := eng.Exec(cmd.Context(), args[0], eo, stdin, stdout, stderr)
			doneOut()
			doneErr()
			if err != nil {
				var ec errdefs.ExitCoder
				if e, ok := err.(errdefs.ExitCoder); ok {
					ec = e
				}
				if ec != nil {
					return &errdefs.ExitError{Code: ec.ExitCode(), Err: err}
				}
				return engineError(err)
			}
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&eo.Detach, "detach", "d", false, "detached mode: run command in the background")
	fs.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&eo.Tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.StringArrayVarP(&eo.Env, "env", "e", nil, "set environment variables")
	fs.StringVarP(&eo.User, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVarP(&eo.WorkingDir, "workdir", "w", "", "working directory inside the container")
	fs.BoolVar(&eo.Privileged, "privileged", false, "give extended privileges to the command")
	return cmd
}
