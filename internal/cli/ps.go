package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// psRow is what `ps --format` templates see (docker's field names).
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, Status, Names, Labels, Mounts, Networks, State, Size string
	c                                                                                                      *engine.Container
}

// Label returns the value of label k.
func (r psRow) Label(k string) string { return r.c.Config.Labels[k] }

// NewCmdPs lists containers.
func NewCmdPs(opts *Options) *cobra.Command {
	var all, quiet, noTrunc, latest bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls", "list"},
		Short:   "List containers",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			list, err := eng.List(cmd.Context(), all || latest || len(filters) > 0)
			if err != nil {
				return engineError(err)
			}
			list, err = filterContainers(list, filters, all)
			if err != nil {
				return usageError(cmd, err)
			}
			if latest && len(list) > 1 {
				list = list[:1]
			}
			return printContainers(cmd, cmd.OutOrStdout(), list, quiet, noTrunc, format)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fs.BoolVarP(&latest, "latest", "l", false, "show the latest created container")
	fs.StringVar(&format, "format", "", "format output using a Go template (or table TEMPLATE)")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "filter output (status=, name=, id=, label=, exited=, health=)")
	return cmd
}

func filterContainers(list []*engine.Container, filters []string, all bool) ([]*engine.Container, error) {
	type f struct{ k, v string }
	var fs []f
	hasStatus := false
	for _, s := range filters {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", s)
		}
		switch k {
		case "status", "name", "id", "label", "exited", "health", "ancestor":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		if k == "status" {
			hasStatus = true
		}
		fs = append(fs, f{k, v})
	}
	var out []*engine.Container
	for _, c := range list {
		if len(filters) > 0 && !all && !hasStatus && !c.State.Running {
			continue
		}
		ok := true
		for _, x := range fs {
			switch x.k {
			case "status":
				ok = ok && c.State.Status == x.v
			case "name":
				ok = ok && strings.Contains(c.Name, strings.TrimPrefix(x.v, "/"))
			case "id":
				ok = ok && strings.HasPrefix(c.ID, x.v)
			case "label":
				k, v, hasV := strings.Cut(x.v, "=")
				got, present := c.Config.Labels[k]
				ok = ok && present && (!hasV || got == v)
			case "exited":
				ok = ok && c.State.Status == engine.StatusExited && fmt.Sprint(c.State.ExitCode) == x.v
			case "health":
				h := "none"
				if c.State.Health != nil {
					h = c.State.Health.Status
				}
				ok = ok && h == x.v
			case "ancestor":
				ok = ok && (c.Config.Image == x.v || strings.HasPrefix(c.Image, x.v))
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func printContainers(cmd *cobra.Command, w io.Writer, list []*engine.Container, quiet, noTrunc bool, format string) error {
	if quiet && format == "" {
		for _, c := range list {
			id := c.ID
			if !noTrunc {
				id = id[:12]
			}
			fmt.Fprintln(w, id)
		}
		return nil
	}
	rows := make([]psRow, 0, len(list))
	for _, c := range list {
		rows = append(rows, makeRow(c, noTrunc))
	}
	if format == "" || format == "table" {
		format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	}
	table := strings.HasPrefix(format, "table ")
	format = strings.TrimPrefix(format, "table ")
	t, err := parseFormat(cmd, format)
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		hdr := strings.NewReplacer("{{.ID}}", "CONTAINER ID", "{{.Image}}", "IMAGE", "{{.Command}}", "COMMAND",
			"{{.RunningFor}}", "CREATED", "{{.CreatedAt}}", "CREATED AT", "{{.Status}}", "STATUS", "{{.Ports}}", "PORTS",
			"{{.Names}}", "NAMES", "{{.State}}", "STATE", "{{.Labels}}", "LABELS", "{{.Mounts}}", "MOUNTS", "{{.Networks}}", "NETWORKS").Replace(format)
		fmt.Fprintln(out, hdr)
	}
	for _, r := range rows {
		if err := t.Execute(out, r); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func makeRow(c *engine.Container, noTrunc bool) psRow {
	r := psRow{c: c, ID: c.ID, Image: c.Config.Image, Names: c.Name, State: c.State.Status,
		CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: humanDuration(time.Since(c.Created)) + " ago"}
	cmdline := strings.Join(append([]string{c.Path}, c.Args...), " ")
	if !noTrunc {
		r.ID = c.ID[:12]
		if len(cmdline) > 20 {
			cmdline = cmdline[:19] + "…"
		}
	}
	r.Command = `"` + cmdline + `"`
	r.Status = statusString(c)
	var ports []string
	for p, bs := range c.NetworkSettings.Ports {
		for _, b := range bs {
			ip := b.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			ports = append(ports, fmt.Sprintf("%s:%s->%s", ip, b.HostPort, p))
		}
	}
	sort.Strings(ports)
	r.Ports = strings.Join(ports, ", ")
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	for _, m := range c.Mounts {
		if m.Name != "" {
			mounts = append(mounts, m.Name)
		} else {
			mounts = append(mounts, m.Source)
		}
	}
	r.Mounts = strings.Join(mounts, ",")
	r.Networks = c.HostConfig.NetworkMode
	return r
}

// statusString is docker's STATUS column.
func statusString(c *engine.Container) string {
	s := c.State
	switch {
	case s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
	case s.Running && s.Paused:
		return "Up " + humanDuration(time.Since(s.StartedAt)) + " (Paused)"
	case s.Running:
		h := ""
		if s.Health != nil {
			h = " (" + map[string]string{"starting": "health: starting"}[s.Health.Status]
			if s.Health.Status != engine.HealthStarting {
				h = " (" + s.Health.Status
			}
			h += ")"
		}
		return "Up " + humanDuration(time.Since(s.StartedAt)) + h
	case s.Status == engine.StatusRemoving:
		return "Removal In Progress"
	case s.Status == engine.StatusCreated:
		return "Created"
	case s.Status == engine.StatusDead:
		return "Dead"
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
}

// humanDuration is docker's go-units HumanDuration.
func humanDuration(d time.Duration) string {
	switch secs := int(d.Seconds()); {
	case secs < 1:
		return "Less than a second"
	case secs == 1:
		return "1 second"
	case secs < 60:
		return fmt.Sprintf("%d seconds", secs)
	}
	switch mins := int(d.Minutes()); {
	case mins == 1:
		return "About a minute"
	case mins < 60:
		return fmt.Sprintf("%d minutes", mins)
	}
	switch hrs := int(d.Hours() + 0.5); {
	case hrs == 1:
		return "About an hour"
	case hrs < 48:
		return fmt.Sprintf("%d hours", hrs)
	case hrs < 24*7*2:
		return fmt.Sprintf("%d days", hrs/24)
	case hrs < 24*30*2:
		return fmt.Sprintf("%d weeks", hrs/24/7)
	case hrs < 24*365*2:
		return fmt.Sprintf("%d months", hrs/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}
