package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/volume"
)

// NewCmdVolume groups the volume subcommands (docker volume ...).
func NewCmdVolume(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var labels []string
	create := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			l := map[string]string{}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				l[k] = v
			}
			v, err := eng.CreateVolume(name, l, false)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	create.Flags().StringArrayVar(&labels, "label", nil, "set metadata for a volume")
	var quiet bool
	var format string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			vols, err := eng.Volumes().List()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if format != "" {
				t, err := parseFormat(cmd, format)
				if err != nil {
					return err
				}
				for _, v := range vols {
					if err := t.Execute(w, v); err != nil {
						return err
					}
					fmt.Fprintln(w)
				}
				return nil
			}
			if quiet {
				for _, v := range vols {
					fmt.Fprintln(w, v.Name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(w, 10, 1, 5, ' ', 0)
			fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			for _, v := range vols {
				fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	ls.Flags().StringVar(&format, "format", "", "format output using a Go template")
	var inspectFormat string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			var out []*volume.Volume
			for _, name := range args {
				v, err := eng.Volumes().Get(name)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			if inspectFormat != "" {
				t, err := parseFormat(cmd, inspectFormat)
				if err != nil {
					return err
				}
				for _, v := range out {
					if err := t.Execute(cmd.OutOrStdout(), v); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout())
				}
				return nil
			}
			b, _ := json.MarshalIndent(out, "", "    ")
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	inspect.Flags().StringVarP(&inspectFormat, "format", "f", "", "format output using a Go template")
	var force bool
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			return eachContainer(cmd, args, func(name string) error { return eng.RemoveVolume(cmd.Context(), name, force) })
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "do not error when the volume does not exist")
	var pruneAll, pruneForce bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused volumes (anonymous ones; -a: all unused)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !pruneForce {
				var line string
				fmt.Fprint(cmd.OutOrStdout(), "WARNING! This will remove unused volumes.\nAre you sure you want to continue? [y/N] ")
				fmt.Fscanln(cmd.InOrStdin(), &line)
				if a := strings.ToLower(line); a != "y" && a != "yes" {
					return nil
				}
			}
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			names, err := eng.PruneVolumes(cmd.Context(), pruneAll)
			if err != nil {
				return err
			}
			if len(names) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Volumes:")
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(names, "\n"))
			}
			return nil
		},
	}
	prune.Flags().BoolVarP(&pruneAll, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	prune.Flags().BoolVarP(&pruneForce, "force", "f", false, "do not prompt for confirmation")
	cmd.AddCommand(create, ls, inspect, rm, prune)
	return cmd
}
