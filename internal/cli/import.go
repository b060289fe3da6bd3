package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdImport is `berth import FILE|- [REPOSITORY[:TAG]]`: a root
// filesystem tarball becomes a one-layer image.
func NewCmdImport(opts *Options) *cobra.Command {
	var message string
	var changes []string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Import a root filesystem tarball as an image",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError(cmd, fmt.Errorf("%q requires 1 or 2 arguments", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := image.ParseChanges(changes)
			if err != nil {
				return usageError(cmd, err)
			}
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			} else if r == nil {
				r = os.Stdin
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			img, err := st.Import(cmd.Context(), r, ref, image.ImportOptions{Config: cfg, Message: message})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message recorded in the image history")
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)")
	return cmd
}
