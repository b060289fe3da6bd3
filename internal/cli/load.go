package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdLoad is `berth load [-i FILE]`.
func NewCmdLoad(opts *Options) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive (docker save, podman save, OCI archive) or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = cmd.InOrStdin()
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer f.Close()
				r = f
			} else if r == nil {
				r = os.Stdin
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			res, err := st.Load(cmd.Context(), r, image.RemoteOptions{})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			for _, l := range res {
				if len(l.Names) == 0 {
					fmt.Fprintf(out, "Loaded image ID: %s\n", l.Image.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintf(out, "Loaded image: %s\n", image.Familiar(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}
