package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/diskusage"
	"github.com/berth/berth/pkg/image"
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

// NewCmdSystemDf is `berth system df`: disk used by images, containers,
// local volumes and the build cache.
func NewCmdSystemDf(opts *Options) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage of images, containers, local volumes and the build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, table, asJSON, err := imgTemplate(format)
			if err != nil {
				return usageError(cmd, err)
			}
			if verbose && format != "" {
				return usageError(cmd, fmt.Errorf("--verbose and --format cannot be combined"))
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			ctrs, err := eng.List(cmd.Context(), true)
			if err != nil {
				return err
			}
			src := diskusage.Sources{Images: st, Volumes: eng.Volumes(), BuildCache: filepath.Join(opts.Root, "build", "cache")}
			for _, c := range ctrs {
				dc := diskusage.Container{ID: c.ID, Name: c.Name, ImageID: c.Image, Image: c.ImageRef, Created: c.Created,
					Status: c.State.Status, Running: c.State.Running || c.State.Restarting,
					Command: strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " "))}
				for _, m := range c.Mounts {
					if m.Type == "volume" {
						dc.Volumes = append(dc.Volumes, m.Name)
					}
				}
				src.Containers = append(src.Containers, dc)
			}
			rep, err := diskusage.Measure(cmd.Context(), src)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if verbose {
				printDfVerbose(out, rep)
				return nil
			}
			var rows []imgDfRow
			for _, r := range rep.Summary {
				rows = append(rows, imgDfRow{r.Type, fmt.Sprint(r.Total), fmt.Sprint(r.Active), imgHumanSize(r.Size), dfPercent(r.Reclaimable, r.Size)})
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
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show each image, container, volume and cache entry")
	return cmd
}

// dfPercent prints reclaimable bytes with their share of the total, as docker.
func dfPercent(part, whole int64) string {
	if whole == 0 {
		return imgHumanSize(part)
	}
	return fmt.Sprintf("%s (%d%%)", imgHumanSize(part), part*100/whole)
}

// printDfVerbose writes docker's `system df -v` sections.
func printDfVerbose(out io.Writer, rep *diskusage.Report) {
	short := func(s string) string {
		s = strings.TrimPrefix(s, "sha256:")
		if len(s) > 12 {
			return s[:12]
		}
		return s
	}
	fmt.Fprint(out, "Images space usage:\n\n")
	tw := imgTable(out)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, u := range rep.Images {
		created := u.Image.Added
		if u.Image.Config != nil && !u.Image.Config.Created.IsZero() {
			created = u.Image.Config.Created.Time
		}
		names := u.Image.RepoTags
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := "<none>", "<none>"
			if n != "<none>:<none>" {
				repo, tag = splitCanon(n)
				repo = image.Familiar(repo)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, short(u.Image.ID.String()), imgSince(created),
				imgHumanSize(u.Size), imgHumanSize(u.SharedSize), imgHumanSize(u.UniqueSize), u.Containers)
		}
	}
	tw.Flush()
	fmt.Fprint(out, "\nContainers space usage:\n\n")
	tw = imgTable(out)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, c := range rep.Containers {
		cmdline := c.Command
		if len(cmdline) > 20 {
			cmdline = cmdline[:19] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%d\t%s\t%s\t%s\t%s\n", short(c.ID), image.Familiar(c.Image), cmdline, len(c.Volumes),
			imgHumanSize(c.Size), imgSince(c.Created), c.Status, strings.TrimPrefix(c.Name, "/"))
	}
	tw.Flush()
	fmt.Fprint(out, "\nLocal Volumes space usage:\n\n")
	tw = imgTable(out)
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range rep.Volumes {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", v.Volume.Name, v.Links, imgHumanSize(v.Size))
	}
	tw.Flush()
	var cacheSize int64
	for _, c := range rep.BuildCache {
		cacheSize += c.Size
	}
	fmt.Fprintf(out, "\nBuild cache usage: %s\n\n", imgHumanSize(cacheSize))
	tw = imgTable(out)
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	for _, c := range rep.BuildCache {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", short(c.ID), "regular", imgHumanSize(c.Size), imgSince(c.Created), imgSince(c.Created), 0, c.Shared)
	}
	tw.Flush()
}
