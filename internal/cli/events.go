package cli

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdEvents streams the engine's events.
func NewCmdEvents(opts *Options) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the engine",
		Long: `Stream the events of containers, images, volumes and networks as they happen (until interrupted).
--since replays recorded events first; --until ends the stream at that time.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var eo engine.EventsOptions
			var err error
			if eo.Since, err = parseTime(since); err != nil {
				return usageError(cmd, err)
			}
			if eo.Until, err = parseTime(until); err != nil {
				return usageError(cmd, err)
			}
			if eo.Filter, err = engine.ParseEventFilters(filters); err != nil {
				return usageError(cmd, err)
			}
			show, err := eventPrinter(cmd.OutOrStdout(), format)
			if err != nil {
				return usageError(cmd, err)
			}
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eng.Events().Watch(cmd.Context(), eo, show)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "show all events created since timestamp (RFC 3339, Unix seconds or a duration such as 10m)")
	f.StringVar(&until, "until", "", "stream events until this timestamp")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions (type=, event=, container=, image=, volume=, network=, label=)")
	f.StringVar(&format, "format", "", "format the output using a Go template ('{{json .}}', or json)")
	return cmd
}

// eventPrinter writes events as docker does: a line of time, type,
// action, actor and attributes, or the --format template.
func eventPrinter(w io.Writer, format string) (func(*engine.Event) error, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	if format != "" {
		tmpl, err := template.New("events").Funcs(formatFuncs).Parse(format)
		if err != nil {
			return nil, fmt.Errorf("invalid --format template: %v", err)
		}
		return func(ev *engine.Event) error {
			var b strings.Builder
			if err := tmpl.Execute(&b, ev); err != nil {
				return err
			}
			_, err := fmt.Fprintln(w, b.String())
			return err
		}, nil
	}
	return func(ev *engine.Event) error {
		_, err := fmt.Fprintln(w, formatEvent(ev))
		return err
	}, nil
}

// formatEvent is docker's default event line.
func formatEvent(ev *engine.Event) string {
	var b strings.Builder
	b.WriteString(time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"))
	fmt.Fprintf(&b, " %s %s %s", ev.Type, ev.Action, ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(ev.Actor.Attributes))
		for k := range ev.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + ev.Actor.Attributes[k]
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	return b.String()
}

// emitImageEvent records an image event (pull, tag, untag, delete) in the
// engine's event log; a failure to record it does not fail the command.
func emitImageEvent(opts *Options, action, id, name string) {
	ev := engine.Event{Status: action, ID: id, Type: engine.EventImage, Action: action,
		Actor: engine.EventActor{ID: id, Attributes: map[string]string{"name": name}}}
	if err := eventLog(opts).Append(ev); err != nil {
		slog.Warn("recording an image event", "action", action, "err", err)
	}
}

// eventLog is the engine's event log under opts.Root, for commands that
// record events without opening the engine.
func eventLog(opts *Options) *engine.EventLog {
	return &engine.EventLog{Path: filepath.Join(opts.Root, "events.log"), MaxSize: engine.DefaultEventLogSize}
}
