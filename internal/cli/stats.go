package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdStats shows containers' resource use.
func NewCmdStats(opts *Options) *cobra.Command {
	var noStream, all bool
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			for {
				var list []*engine.Container
				if len(args) > 0 {
					for _, ref := range args {
						c, err := eng.Load(cmd.Context(), ref)
						if err != nil {
							return err
						}
						list = append(list, c)
					}
				} else if list, err = eng.List(cmd.Context(), all); err != nil {
					return err
				}
				before := map[string]engine.Stats{}
				for _, c := range list {
					before[c.ID] = engine.CgroupStats(c.ID)
				}
				t0 := time.Now()
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				wall := time.Since(t0)
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 4, 1, 3, ' ', 0)
				fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
				for _, c := range list {
					s := engine.CgroupStats(c.ID)
					cpu := float64(s.CPUUsageNs-before[c.ID].CPUUsageNs) / float64(wall.Nanoseconds()) * 100
					if !c.State.Running {
						cpu = 0
					}
					memPct := 0.0
					if s.MemoryLimit > 0 && s.MemoryLimit < 1<<60 {
						memPct = float64(s.MemoryUsage) / float64(s.MemoryLimit) * 100
					}
					fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", c.ID[:12], c.Name, cpu, bytesHuman(s.MemoryUsage),
						limitHuman(s.MemoryLimit), memPct, s.Pids)
				}
				tw.Flush()
				if noStream {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	return cmd
}

func bytesHuman(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func limitHuman(n int64) string {
	if n <= 0 || n >= 1<<60 {
		return "unlimited"
	}
	return bytesHuman(n)
}
