package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/build/cache"
)

// NewCmdBuilder is `berth builder`: managing the build cache.
func NewCmdBuilder(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage the build cache",
		Args:  noArgs,
	}
	cmd.AddCommand(newCmdBuilderPrune(opts))
	return cmd
}

func newCmdBuilderPrune(opts *Options) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the build cache",
		Long: `Remove every build cache entry, so the next build runs each step again.
Layers that only the cache used are freed by the image store's next garbage
collection (berth rmi, berth image prune).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cache.Open(filepath.Join(opts.Root, "build", "cache"))
			if err != nil {
				return err
			}
			n, err := c.Prune()
			if err != nil {
				return fmt.Errorf("pruning the build cache: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %d build cache entries\n", n)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all cache entries (the default: berth keeps no other kind)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation (berth never prompts)")
	return cmd
}
