package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdRmi is `berth rmi IMAGE...` (also `berth image rm`).
func NewCmdRmi(opts *Options) *cobra.Command {
	var ro image.RemoveOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var errs []error
			for _, ref := range args {
				res, err := st.Remove(cmd.Context(), ref, ro)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, u := range res.Untagged {
					fmt.Fprintf(out, "Untagged: %s\n", u)
					emitImageEvent(opts, "untag", u, u)
				}
				for _, d := range res.Deleted {
					fmt.Fprintf(out, "Deleted: %s\n", d)
					emitImageEvent(opts, "delete", d.String(), d.String())
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&ro.Force, "force", "f", false, "force removal of the image")
	cmd.Flags().BoolVar(&ro.NoPrune, "no-prune", false, "do not delete untagged parents")
	return cmd
}
