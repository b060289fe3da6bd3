package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdImage is `berth image`: the image management verbs under one noun,
// as docker has them (image ls, image inspect, image rm, ...).
func NewCmdImage(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cobra.NoArgs,
	}
	ls := NewCmdImages(opts)
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := NewCmdRmi(opts)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove"}
	cmd.AddCommand(ls, rm, NewCmdImageInspect(opts), NewCmdImagePrune(opts), NewCmdPull(opts), NewCmdPush(opts),
		NewCmdTag(opts), NewCmdHistory(opts), NewCmdImport(opts), NewCmdSave(opts), NewCmdLoad(opts))
	return cmd
}

// openImages opens the image store under --root.
func openImages(opts *Options) (*image.Store, error) {
	return image.Open(opts.Root)
}
