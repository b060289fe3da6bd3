package runtimecli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdRuntimeDelete is `delete`: remove a stopped (or, forced, any) container.
func NewCmdRuntimeDelete(ropts *RuntimeOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [--force] CONTAINER",
		Short: "Delete a container and everything it holds",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			err = rt.Delete(args[0], force)
			if force && errors.Is(err, errdefs.ErrNotFound) {
				return nil // runc: deleting a missing container with --force succeeds
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it still runs")
	return cmd
}
