package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/spf13/cobra"
)

// networkRow is what `network ls --format` templates see (docker's fields).
type networkRow struct {
	ID        string
	Name      string
	Driver    string
	Scope     string
	IPv6      bool
	Internal  bool
	Labels    string
	CreatedAt string
}

// NewCmdNetworkLs lists networks.
func NewCmdNetworkLs(opts *Options) *cobra.Command {
	var (
		quiet, noTrunc bool
		format         string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// "" and "table": the default table; "table TEMPLATE": a table
			// with headers; "json": JSON lines; anything else: a template.
			var tmpl *template.Template
			withHeader := false
			if f := strings.ReplaceAll(strings.TrimSpace(format), `\t`, "\t"); f != "" && f != "table" && f != "json" && !quiet {
				if rest, ok := strings.CutPrefix(f, "table "); ok {
					f, withHeader = rest, true
				}
				t, err := template.New("format").Parse(f)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --format: %w", err))
				}
				tmpl = t
			}
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			nets, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var rows []networkRow
			for _, n := range nets {
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				var labels []string
				for k, v := range n.Labels {
					labels = append(labels, k+"="+v)
				}
				sort.Strings(labels)
				rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: "local",
					IPv6: n.EnableIPv6, Internal: n.Internal, Labels: strings.Join(labels, ","), CreatedAt: n.Created.Format("2006-01-02 15:04:05 -0700 MST")})
			}
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			case format == "json":
				enc := json.NewEncoder(out)
				for _, r := range rows {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			if tmpl == nil {
				fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Driver, r.Scope)
				}
				return tw.Flush()
			}
			if withHeader {
				// Headers are the field names, as docker prints them for a table template.
				var hdr strings.Builder
				if err := tmpl.Execute(&hdr, headerRow); err != nil {
					return usageError(cmd, fmt.Errorf("invalid --format: %w", err))
				}
				fmt.Fprintln(tw, hdr.String())
			}
			for _, r := range rows {
				if err := tmpl.Execute(tw, r); err != nil {
					return usageError(cmd, fmt.Errorf("invalid --format: %w", err))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.StringVar(&format, "format", "", "format output: table, table TEMPLATE, json, or a Go template")
	return cmd
}

var headerRow = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
	"IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}
