package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/image"
)

// NewCmdCommit makes an image from a container's changes.
func NewCmdCommit(opts *Options) *cobra.Command {
	var co engine.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError(cmd, fmt.Errorf("%q requires at least 1 and at most 2 arguments", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if _, err := image.NormalizeTag(args[1]); err != nil {
					return usageError(cmd, fmt.Errorf("invalid reference format: %v", err))
				}
				co.Ref = args[1]
			}
			if _, err := image.ParseChanges(co.Changes); err != nil {
				return usageError(cmd, err)
			}
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			id, err := eng.Commit(cmd.Context(), args[0], co)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&co.Author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&co.Message, "message", "m", "", "commit message")
	f.StringArrayVarP(&co.Changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	f.BoolVarP(&co.Pause, "pause", "p", true, "pause container during commit")
	return cmd
}
