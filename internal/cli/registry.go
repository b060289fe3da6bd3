package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"
)

// NewCmdRegistry is `berth registry`: serve and maintain an OCI registry.
func NewCmdRegistry(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve and maintain an OCI distribution registry",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdRegistryServe(opts), NewCmdRegistryGC(opts))
	return cmd
}

// defaultRegistryRoot is where the registry keeps its content unless --root says otherwise.
func defaultRegistryRoot(opts *Options) string { return filepath.Join(opts.Root, "registry") }
