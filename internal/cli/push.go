package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/credentials"
	"github.com/berth/berth/pkg/image"
)

// NewCmdPush is `berth push NAME[:TAG]`.
func NewCmdPush(opts *Options) *cobra.Command {
	var quiet bool
	var creds string
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := image.ParseReference(args[0])
			if err != nil {
				return err
			}
			if err := tf.apply(cmd, ref.Context().RegistryStr()); err != nil {
				return err
			}
			var ro image.RemoteOptions
			if creds != "" {
				if ro.Keychain, err = credentials.ParseCreds(creds); err != nil {
					return usageError(cmd, err)
				}
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var prog *imgProgress
			if !quiet {
				canon, err := image.Normalize(args[0])
				if err != nil {
					return err
				}
				repo, _ := splitCanon(canon)
				fmt.Fprintf(out, "The push refers to repository [%s]\n", repo)
				prog = newImgProgress(out)
				ro.Progress = prog.update
			}
			res, err := st.Push(cmd.Context(), args[0], ro)
			if prog != nil {
				prog.finish()
			}
			if err != nil {
				return err
			}
			_, tag := splitCanon(res.Ref)
			fmt.Fprintf(out, "%s: digest: %s size: %d\n", tag, res.Digest, res.Size)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the result")
	cmd.Flags().StringVar(&creds, "creds", "", "USERNAME:PASSWORD for the registry, for this push only (podman's flag)")
	tf.register(cmd)
	return cmd
}
