package runtimecli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// usageError marks errors in how a command was invoked; they exit with 125
// like the rest of berth's command line.
func usageError(cmd *cobra.Command, err error) error {
	return &errdefs.ExitError{Code: 125, Err: fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath())}
}

// exactArgs is cobra.ExactArgs with berth's wording and exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(cmd, fmt.Errorf("%q requires exactly %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs with berth's wording and exit code.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(cmd, fmt.Errorf("%q requires at least %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with berth's wording and exit code.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usageError(cmd, fmt.Errorf("%q accepts no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}
