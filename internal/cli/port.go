package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdPort lists a container's published ports.
func NewCmdPort(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			c, err := eng.Load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
			}
			var lines []string
			for p, bs := range c.NetworkSettings.Ports {
				if want != "" && p != want {
					continue
				}
				for _, b := range bs {
					ip := b.HostIP
					if ip == "" {
						ip = "0.0.0.0"
					}
					if want != "" {
						lines = append(lines, fmt.Sprintf("%s:%s", ip, b.HostPort))
					} else {
						lines = append(lines, fmt.Sprintf("%s -> %s:%s", p, ip, b.HostPort))
					}
				}
			}
			if want != "" && len(lines) == 0 {
				return fmt.Errorf("no public port '%s' published for %s: %w", want, c.Name, errdefs.ErrNotFound)
			}
			sort.Strings(lines)
			for _, l := range lines {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			return nil
		},
	}
}
