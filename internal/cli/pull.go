package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdPull is `berth pull NAME[:TAG|@DIGEST]` and `berth pull -a NAME`.
func NewCmdPull(opts *Options) *cobra.Command {
	var quiet, allTags bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plat, err := image.ParsePlatform(platform)
			if err != nil {
				return usageError(cmd, err)
			}
			var repo string
			if allTags {
				r, err := image.ParseRepository(args[0])
				if err != nil {
					return usageError(cmd, err)
				}
				repo = image.RepoName(r)
			} else if _, err := image.Normalize(args[0]); err != nil {
				return err
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			po := image.PullOptions{Platform: plat}
			if !allTags {
				if !quiet && !strings.Contains(args[0], "@") && strings.LastIndex(args[0], ":") < strings.LastIndex(args[0], "/")+1 {
					fmt.Fprintln(out, "Using default tag: latest")
				}
				res, err := pullOne(cmd, st, args[0], po, quiet)
				if err != nil {
					return err
				}
				if !quiet {
					printPullStatus(out, res.Downloaded, res.Ref)
				}
				fmt.Fprintln(out, res.Ref)
				return nil
			}
			tags, err := st.ListTags(cmd.Context(), repo, po.RemoteOptions)
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				return fmt.Errorf("pull --all-tags %s: the repository has no tags", image.Familiar(repo))
			}
			downloaded := false
			for _, tag := range tags {
				res, err := pullOne(cmd, st, repo+":"+tag, po, quiet)
				if err != nil {
					return err
				}
				downloaded = downloaded || res.Downloaded
			}
			if !quiet {
				printPullStatus(out, downloaded, repo)
			}
			fmt.Fprintln(out, repo)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image reference")
	cmd.Flags().StringVar(&platform, "platform", "", "pick this os/arch[/variant] from a multi-platform image")
	cmd.Flags().BoolVarP(&allTags, "all-tags", "a", false, "download every tagged image of the repository")
	return cmd
}

// pullOne pulls ref with docker's progress lines unless quiet.
func pullOne(cmd *cobra.Command, st *image.Store, ref string, po image.PullOptions, quiet bool) (*image.PullResult, error) {
	out := cmd.OutOrStdout()
	var prog *imgProgress
	if !quiet {
		canon, err := image.Normalize(ref)
		if err != nil {
			return nil, err
		}
		repo, tag := splitCanon(canon)
		fmt.Fprintf(out, "%s: Pulling from %s\n", tag, image.Familiar(repo))
		prog = newImgProgress(out)
		po.Progress = prog.update
	}
	res, err := st.Pull(cmd.Context(), ref, po)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprintf(out, "Digest: %s\n", res.Digest)
	}
	return res, nil
}

func printPullStatus(out io.Writer, downloaded bool, ref string) {
	if downloaded {
		fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", image.Familiar(ref))
	} else {
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", image.Familiar(ref))
	}
}

// splitCanon splits a canonical reference into repository and tag or digest.
func splitCanon(canon string) (repo, tag string) {
	if i := strings.Index(canon, "@"); i >= 0 {
		return canon[:i], canon[i+1:]
	}
	i := strings.LastIndex(canon, ":")
	return canon[:i], canon[i+1:]
}
