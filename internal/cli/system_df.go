package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdSystem is `berth system`: system-wide views (df).
func NewCmdSystem(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage berth",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSystemDf(opts))
	return cmd
}

// imgDfRow is one line of system df, with docker's field names.
type imgDfRow struct {
	Type        string
	TotalCount  string
	Active      string
	Size        string
	Reclaimable string
}

// NewCmdSystemDf is `berth system df`: disk used by images and by
// containers' writable layers.
func NewCmdSystemDf(opts *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage of images and containers' writable layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, table, asJSON, err := imgTemplate(format)
			if err != nil {
				return usageError(cmd, err)
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			u, err := st.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			pct := func(part, whole int64) string {
				if whole == 0 {
					return imgHumanSize(part)
				}
				return fmt.Sprintf("%s (%d%%)", imgHumanSize(part), part*100/whole)
			}
			rows := []imgDfRow{
				{"Images", fmt.Sprint(u.Images), fmt.Sprint(u.ActiveImages), imgHumanSize(u.ImagesSize), pct(u.Reclaimable, u.ImagesSize)},
				{"Containers", fmt.Sprint(u.Containers), fmt.Sprint(u.Containers), imgHumanSize(u.ContainersSize), imgHumanSize(0)},
			}
			out := cmd.OutOrStdout()
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
				fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable)
				}
				return nil
			}
			if table {
				tmpl.Execute(tw, imgDfRow{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"})
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
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}
