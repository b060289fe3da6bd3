// Package cliargs holds the argument checks that berth's command lines share:
// cobra's positional-argument validators with docker's wording, and misuse
// reported with docker's exit code 125. It stays tiny so the lean
// berth-runtime binary can use it.
package cliargs

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// UsageError marks err as a mistake in how cmd was invoked; docker answers those with 125.
func UsageError(cmd *cobra.Command, err error) error {
	return &errdefs.ExitError{Code: 125, Err: fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath())}
}

// ExactArgs is cobra.ExactArgs with docker's wording and exit code.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return UsageError(cmd, fmt.Errorf("%q requires exactly %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}

// MinArgs is cobra.MinimumNArgs with docker's wording and exit code.
func MinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return UsageError(cmd, fmt.Errorf("%q requires at least %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}

// NoArgs is cobra.NoArgs with docker's wording and exit code.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return UsageError(cmd, fmt.Errorf("%q accepts no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}
