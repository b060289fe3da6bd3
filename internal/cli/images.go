package cli

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	imagepkg "github.com/berth/berth/pkg/image"
)

// imgRow is one line of `berth images`; its field names are docker's
// template fields.
type imgRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

// NewCmdImages is `berth images` (also `berth image ls`).
func NewCmdImages(opts *Options) *cobra.Command {
	var quiet, digests, noTrunc, all bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(cmd, fmt.Errorf("%q accepts at most 1 argument", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, table, asJSON, err := imgTemplate(format)
			if err != nil {
				return usageError(cmd, err)
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			imgs, err := st.List(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			match, err := imgFilter(cmd, st, filters)
			if err != nil {
				return usageError(cmd, err)
			}
			var rows []imgRow
			seen := map[string]bool{}
			for _, img := range imgs {
				for _, r := range imgRows(st, img, noTrunc) {
					if !match(img, r) {
						continue
					}
					if quiet {
						if seen[r.ID] {
							continue
						}
						seen[r.ID] = true
					}
					rows = append(rows, r)
				}
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			}
			if asJSON {
				for _, r := range rows {
					b, _ := json.Marshal(r)
					fmt.Fprintln(out, string(b))
				}
				return nil
			}
			tw := imgTable(out)
			defer tw.Flush()
			if tmpl == nil {
				if digests {
					fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
				} else {
					fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
				}
				for _, r := range rows {
					if digests {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince, r.Size)
					} else {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
					}
				}
				return nil
			}
			if table {
				headers := imgRow{Containers: "CONTAINERS", CreatedAt: "CREATED AT", CreatedSince: "CREATED", Digest: "DIGEST", ID: "IMAGE ID",
					Repository: "REPOSITORY", SharedSize: "SHARED SIZE", Size: "SIZE", Tag: "TAG", UniqueSize: "UNIQUE SIZE", VirtualSize: "VIRTUAL SIZE"}
				if err := tmpl.Execute(tw, headers); err != nil {
					return err
				}
				fmt.Fprintln(tw)
			}
			for _, r := range rows {
				if err := tmpl.Execute(tw, r); err != nil {
					return err
				}
				fmt.Fprintln(tw)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&digests, "digests", false, "show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&all, "all", "a", false, "show all images (berth keeps no intermediate images, so this lists the same)")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]")
	return cmd
}

// imgRows makes the rows of one image: one per repository:tag, or one
// <none> row for an untagged image.
func imgRows(st *imagepkg.Store, img *imagepkg.Image, noTrunc bool) []imgRow {
	id := img.ID.String()
	if !noTrunc {
		id = img.ID.Encoded()[:12]
	}
	created := img.Config.Created.Time
	size := imgHumanSize(st.UnpackedSize(img))
	base := imgRow{Containers: "N/A", CreatedAt: created.Format("2006-01-02 15:04:05 -0700 MST"), CreatedSince: imgSince(created),
		ID: id, SharedSize: "N/A", Size: size, UniqueSize: "N/A", VirtualSize: size, Digest: "<none>"}
	digestOf := func(repo string) string {
		for _, d := range img.RepoDigests {
			if r, dg := splitCanon(d); r == repo {
				return dg
			}
		}
		return "<none>"
	}
	var rows []imgRow
	for _, t := range img.RepoTags {
		repo, tag := splitCanon(t)
		r := base
		r.Repository, r.Tag, r.Digest = imagepkg.Familiar(repo), tag, digestOf(repo)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		if len(img.RepoDigests) > 0 {
			repo, dg := splitCanon(img.RepoDigests[0])
			r.Repository, r.Digest = imagepkg.Familiar(repo), dg
		}
		rows = append(rows, r)
	}
	return rows
}

// imgFilter compiles --filter values into a predicate.
func imgFilter(cmd *cobra.Command, st *imagepkg.Store, filters []string) (func(*imagepkg.Image, imgRow) bool, error) {
	var preds []func(*imagepkg.Image, imgRow) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad filter %q: want key=value", f)
		}
		switch k {
		case "dangling":
			want := v == "true" || v == "1"
			if !want && v != "false" && v != "0" {
				return nil, fmt.Errorf("bad dangling filter %q: want true or false", v)
			}
			preds = append(preds, func(img *imagepkg.Image, _ imgRow) bool { return (len(img.RepoTags) == 0) == want })
		case "reference":
			pattern := v
			preds = append(preds, func(_ *imagepkg.Image, r imgRow) bool {
				if r.Repository == "<none>" {
					return false
				}
				for _, cand := range []string{r.Repository, r.Repository + ":" + r.Tag} {
					if ok, _ := path.Match(pattern, cand); ok {
						return true
					}
				}
				return false
			})
		case "before", "since":
			ref, err := st.Resolve(cmd.Context(), v)
			if err != nil {
				return nil, err
			}
			at := ref.Config.Created.Time
			before := k == "before"
			preds = append(preds, func(img *imagepkg.Image, _ imgRow) bool {
				t := img.Config.Created.Time
				if before {
					return t.Before(at)
				}
				return t.After(at)
			})
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(img *imagepkg.Image, _ imgRow) bool {
				got, ok := img.Config.Config.Labels[lk]
				return ok && (!hasV || got == lv)
			})
		case "until":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("bad until filter %q: %w", v, err)
			}
			preds = append(preds, func(img *imagepkg.Image, _ imgRow) bool { return time.Since(img.Config.Created.Time) > d })
		default:
			return nil, fmt.Errorf("unsupported filter %q", k)
		}
	}
	return func(img *imagepkg.Image, r imgRow) bool {
		for _, p := range preds {
			if !p(img, r) {
				return false
			}
		}
		return true
	}, nil
}
