package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdCp copies files between a container and the host.
func NewCmdCp(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "cp CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			split := func(s string) (string, string, bool) {
				if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
					return "", s, false
				}
				c, p, ok := strings.Cut(s, ":")
				return c, p, ok
			}
			sc, sp, sok := split(args[0])
			dc, dp, dok := split(args[1])
			switch {
			case sok && !dok:
				return eng.CopyFrom(cmd.Context(), sc, sp, args[1])
			case dok && !sok:
				return eng.CopyTo(cmd.Context(), dc, args[0], dp)
			case sok && dok:
				return usageError(cmd, errors.New("copying between containers is not supported"))
			}
			return usageError(cmd, errors.New("must specify at least one container source"))
		},
	}
}
