package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/version"
)

// NewCmdVersion prints the version, commit and Go version of this build.
func NewCmdVersion(opts *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version, commit and Go version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := version.Get()
			switch format {
			case "":
				_, err := fmt.Fprint(cmd.OutOrStdout(), info.String())
				return err
			case "json":
				return json.NewEncoder(cmd.OutOrStdout()).Encode(info)
			default:
				return usageError(cmd, fmt.Errorf("invalid --format %q: want json or nothing", format))
			}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: json")
	return cmd
}
