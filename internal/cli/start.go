package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdStart starts stopped containers.
func NewCmdStart(opts *Options) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			if attach {
				if len(args) != 1 {
					return usageError(cmd, errors.New("you cannot start and attach multiple containers at once"))
				}
				c, err := eng.Load(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if err := eng.Start(cmd.Context(), c.ID, engine.StartOptions{WaitAttach: true}); err != nil {
					return err
				}
				code, err := attachStreams(cmd, eng, c.ID, interactive && c.Config.OpenStdin, c.Config.Tty)
				if err != nil {
					return err
				}
				if code != 0 {
					return &errdefs.ExitError{Code: code}
				}
				return nil
			}
			return eachContainer(cmd, args, func(ref string) error {
				return eng.Start(cmd.Context(), ref, engine.StartOptions{})
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN")
	return cmd
}

// eachContainer applies fn to every argument, printing each that worked as
// docker does, and fails (exit 1) if any failed.
func eachContainer(cmd *cobra.Command, args []string, fn func(ref string) error) error {
	var failed []error
	for _, ref := range args {
		if err := fn(ref); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	if len(failed) == 1 {
		return &errdefs.ExitError{Code: 1, Err: errors.New("")}
	}
	if len(failed) > 0 {
		return &errdefs.ExitError{Code: 1}
	}
	return nil
}
