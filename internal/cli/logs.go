package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdLogs prints a container's log.
func NewCmdLogs(opts *Options) *cobra.Command {
	var lo engine.LogsOptions
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lo.Tail = -1
			if tail != "all" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --tail %q: want a number or all", tail))
				}
				lo.Tail = n
			}
			var err error
			if lo.Since, err = parseTime(since); err != nil {
				return usageError(cmd, err)
			}
			if lo.Until, err = parseTime(until); err != nil {
				return usageError(cmd, err)
			}
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			return eng.Logs(cmd.Context(), args[0], lo, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&lo.Follow, "follow", "f", false, "follow log output")
	fs.BoolVarP(&lo.Timestamps, "timestamps", "t", false, "show timestamps")
	fs.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	fs.StringVar(&since, "since", "", "show logs since timestamp (2013-01-02T13:23:37Z) or relative (42m)")
	fs.StringVar(&until, "until", "", "show logs before a timestamp or relative time")
	return cmd
}

// parseTime accepts RFC 3339 times, Unix seconds and durations before now.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339, Unix seconds or a duration", s)
}
