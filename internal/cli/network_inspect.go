package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/network"
)

// NewCmdNetworkInspect prints networks as docker's JSON.
func NewCmdNetworkInspect(opts *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" && format != "json" {
				t, err := template.New("format").Funcs(template.FuncMap{"json": toJSON}).Parse(format)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --format: %w", err))
				}
				tmpl = t
			}
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			var found []*network.Inspect
			var errs []error
			for _, ref := range args {
				in, err := m.Inspect(cmd.Context(), ref)
				if err != nil {
					if errors.Is(err, errdefs.ErrNotFound) {
						err = fmt.Errorf("no such network: %s: %w", ref, errdefs.ErrNotFound)
					}
					errs = append(errs, err)
					continue
				}
				found = append(found, in)
			}
			out := cmd.OutOrStdout()
			if tmpl != nil {
				for _, in := range found {
					if err := tmpl.Execute(out, in); err != nil {
						return fmt.Errorf("executing --format: %w", err)
					}
					fmt.Fprintln(out)
				}
			} else {
				if found == nil {
					found = []*network.Inspect{}
				}
				b, err := json.MarshalIndent(found, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template, or json")
	return cmd
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
