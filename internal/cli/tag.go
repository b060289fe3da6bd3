package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdTag is `berth tag SOURCE TARGET`.
func NewCmdTag(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			if err := st.Tag(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if img, err := st.Resolve(cmd.Context(), args[1]); err == nil {
				emitImageEvent(opts, "tag", img.ID.String(), args[1])
			}
			return nil
		},
	}
}
