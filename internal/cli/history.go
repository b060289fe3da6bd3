package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// imgHistoryRow is one line of `berth history`, with docker's field names.
type imgHistoryRow struct {
	ID           string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
}

// NewCmdHistory is `berth history IMAGE`.
func NewCmdHistory(opts *Options) *cobra.Command {
	var noTrunc, quiet, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, table, asJSON, err := imgTemplate(format)
			if err != nil {
				return usageError(cmd, err)
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			img, err := st.Resolve(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			// Sizes of the layers in order; history entries with
			// empty_layer have none.
			var sizes []int64
			for _, l := range img.Layers {
				if info, err := st.Snapshots().Stat(l.ChainID); err == nil {
					sizes = append(sizes, info.Size)
				} else {
					sizes = append(sizes, l.Size)
				}
			}
			var rows []imgHistoryRow
			li := 0
			for _, h := range img.Config.History {
				var size int64
				if !h.EmptyLayer && li < len(sizes) {
					size = sizes[li]
					li++
				}
				createdBy := h.CreatedBy
				if !noTrunc && len(createdBy) > 45 {
					createdBy = createdBy[:44] + "…"
				}
				sz := fmt.Sprint(size)
				if human {
					sz = imgHumanSize(size)
				}
				since := imgSince(h.Created.Time)
				if !human {
					since = h.Created.Time.Format(time.RFC3339)
				}
				rows = append(rows, imgHistoryRow{ID: "<missing>", CreatedAt: h.Created.Time.Format(time.RFC3339), CreatedSince: since,
					CreatedBy: createdBy, Size: sz, Comment: h.Comment})
			}
			// Newest first; the newest carries the image ID.
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			if len(rows) > 0 {
				rows[0].ID = img.ID.Encoded()[:12]
				if noTrunc {
					rows[0].ID = img.ID.String()
				}
			}
			out := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
			case asJSON:
				for _, r := range rows {
					b, _ := json.Marshal(r)
					fmt.Fprintln(out, string(b))
				}
			case tmpl != nil:
				tw := imgTable(out)
				defer tw.Flush()
				if table {
					tmpl.Execute(tw, imgHistoryRow{ID: "IMAGE", CreatedAt: "CREATED AT", CreatedSince: "CREATED", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT"})
					fmt.Fprintln(tw)
				}
				for _, r := range rows {
					if err := tmpl.Execute(tw, r); err != nil {
						return err
					}
					fmt.Fprintln(tw)
				}
			default:
				tw := imgTable(out)
				defer tw.Flush()
				fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedSince, strings.ReplaceAll(r.CreatedBy, "\t", " "), r.Size, r.Comment)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}
