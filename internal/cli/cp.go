package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/layer"
)

// NewCmdCp copies files between a container and the host.
func NewCmdCp(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "cp CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem (- for a tar stream on stdin or stdout)",
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
			case args[0] == "-" && dok:
				// As docker, a gzip or zstd stream is taken too.
				plain, _, err := layer.Decompress(cmd.InOrStdin())
				if err != nil {
					return err
				}
				defer plain.Close()
				return eng.CopyToFromTar(cmd.Context(), dc, dp, plain)
			case sok && args[1] == "-":
				return eng.CopyFromTar(cmd.Context(), sc, sp, cmd.OutOrStdout())
			case args[0] == "-" || args[1] == "-":
				return usageError(cmd, errors.New("a tar stream (-) needs a container path on the other side: cp - CONTAINER:DIR or cp CONTAINER:PATH -"))
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
