package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdInspect prints containers' records as JSON or through a template.
func NewCmdInspect(opts *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Return low-level information on containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			var out []any
			var failed error
			for _, ref := range args {
				c, err := eng.Load(cmd.Context(), ref)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
					failed = &errdefs.ExitError{Code: 1}
					continue
				}
				out = append(out, c)
			}
			w := cmd.OutOrStdout()
			if format != "" {
				t, err := parseFormat(cmd, format)
				if err != nil {
					return err
				}
				for _, c := range out {
					// Templates see the JSON document, as docker's do
					// ({{.Id}}, {{.State.Status}}).
					b, err := json.Marshal(c)
					if err != nil {
						return err
					}
					var doc any
					if err := json.Unmarshal(b, &doc); err != nil {
						return err
					}
					if err := t.Execute(w, doc); err != nil {
						return &errdefs.ExitError{Code: 1, Err: fmt.Errorf("template: %w", err)}
					}
					fmt.Fprintln(w)
				}
				return failed
			}
			if out == nil {
				out = []any{}
			}
			b, err := json.MarshalIndent(out, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, string(b))
			return failed
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a Go template")
	return cmd
}
