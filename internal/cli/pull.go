package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/image"
)

// NewCmdPull is `berth pull NAME[:TAG|@DIGEST]`.
func NewCmdPull(opts *Options) *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all, _ := cmd.Flags().GetBool("all-tags"); all {
				return fmt.Errorf("pull --all-tags: %w: pull each tag by name", errdefs.ErrNotImplemented)
			}
			plat, err := image.ParsePlatform(platform)
			if err != nil {
				return usageError(cmd, err)
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			canon, err := image.Normalize(args[0])
			if err != nil {
				return err
			}
			po := image.PullOptions{Platform: plat}
			var prog *imgProgress
			if !quiet {
				if !strings.Contains(args[0], ":") && !strings.Contains(args[0], "@") {
					fmt.Fprintln(out, "Using default tag: latest")
				}
				repo, tag := splitCanon(canon)
				fmt.Fprintf(out, "%s: Pulling from %s\n", tag, image.Familiar(repo))
				prog = newImgProgress(out)
				po.Progress = prog.update
			}
			res, err := st.Pull(cmd.Context(), args[0], po)
			if prog != nil {
				prog.finish()
			}
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(out, "Digest: %s\n", res.Digest)
				if res.Downloaded {
					fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", image.Familiar(res.Ref))
				} else {
					fmt.Fprintf(out, "Status: Image is up to date for %s\n", image.Familiar(res.Ref))
				}
			}
			fmt.Fprintln(out, res.Ref)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image reference")
	cmd.Flags().StringVar(&platform, "platform", "", "pick this os/arch[/variant] from a multi-platform image")
	cmd.Flags().BoolP("all-tags", "a", false, "download all tags (not supported yet)")
	return cmd
}

// splitCanon splits a canonical reference into repository and tag or digest.
func splitCanon(canon string) (repo, tag string) {
	if i := strings.Index(canon, "@"); i >= 0 {
		return canon[:i], canon[i+1:]
	}
	i := strings.LastIndex(canon, ":")
	return canon[:i], canon[i+1:]
}
