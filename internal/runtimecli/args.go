package runtimecli

import "github.com/berth/berth/internal/cliargs"

// Short names for the shared argument checks.
var (
	usageError = cliargs.UsageError
	exactArgs  = cliargs.ExactArgs
	minArgs    = cliargs.MinArgs
	noArgs     = cliargs.NoArgs
)
