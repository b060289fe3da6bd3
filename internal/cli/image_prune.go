package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// NewCmdImagePrune is `berth image prune`.
func NewCmdImagePrune(opts *Options) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images (dangling ones, or with -a every image no container uses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			po := image.PruneOptions{All: all}
			var preds []func(*image.Image) bool
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "until":
					d, err := time.ParseDuration(v)
					if err != nil {
						t, terr := time.Parse(time.RFC3339, v)
						if terr != nil {
							return usageError(cmd, fmt.Errorf("bad until filter %q", v))
						}
						d = time.Since(t)
					}
					preds = append(preds, func(img *image.Image) bool { return time.Since(img.Config.Created.Time) >= d })
				case "label":
					lk, lv, hasV := strings.Cut(v, "=")
					preds = append(preds, func(img *image.Image) bool {
						got, ok := img.Config.Config.Labels[lk]
						return ok && (!hasV || got == lv)
					})
				default:
					return usageError(cmd, fmt.Errorf("unsupported filter %q: want until= or label=", k))
				}
			}
			if len(preds) > 0 {
				po.Filter = func(img *image.Image) bool {
					for _, p := range preds {
						if !p(img) {
							return false
						}
					}
					return true
				}
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			res, err := st.Prune(cmd.Context(), po)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Untagged)+len(res.Deleted) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, u := range res.Untagged {
					fmt.Fprintf(out, "untagged: %s\n", u)
				}
				for _, d := range res.Deleted {
					fmt.Fprintf(out, "deleted: %s\n", d)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", imgHumanSize(res.Reclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all images not used by a container, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation (berth never prompts)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "filter: until=DURATION|TIME, label=KEY[=VALUE]")
	return cmd
}
