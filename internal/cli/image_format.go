package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"

	"golang.org/x/term"
)

// imgTemplate parses a --format value: "json" (one JSON object per line),
// "table ..." or a Go template. "" and "table" mean the default table.
func imgTemplate(format string) (tmpl *template.Template, table, asJSON bool, err error) {
	switch strings.TrimSpace(format) {
	case "", "table":
		return nil, true, false, nil
	case "json", "{{json .}}":
		return nil, false, true, nil
	}
	text, isTable := strings.CutPrefix(format, "table ")
	text = strings.ReplaceAll(text, `\t`, "\t")
	text = strings.ReplaceAll(text, `\n`, "\n")
	tmpl, err = template.New("format").Funcs(template.FuncMap{
		"json":  func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"join":  strings.Join,
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"title": strings.Title, //nolint:staticcheck // docker offers it
		"truncate": func(s string, n int) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
	}).Parse(text)
	if err != nil {
		return nil, false, false, fmt.Errorf("invalid --format: %w", err)
	}
	return tmpl, isTable, false, nil
}

// imgHumanSize prints bytes as docker does (decimal units, 3 significant digits).
func imgHumanSize(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// imgSince prints how long ago t was, docker-style ("3 hours ago").
func imgSince(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week") + " ago"
	case d < 2*365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month") + " ago"
	}
	return plural(int(d.Hours()/24/365), "year") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		if unit == "hour" {
			return "About an hour"
		}
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// imgTable is a tab-aligned table writer with docker's spacing.
func imgTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0) }

// imgProgress renders per-layer transfer progress: on a terminal, one
// redrawn line per layer as docker does; otherwise a plain line each time a
// layer changes status.
type imgProgress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	order    []string
	lines    map[string]string
	status   map[string]string
	drawn    int
	lastDraw time.Time
}

func newImgProgress(w io.Writer) *imgProgress {
	tty := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	return &imgProgress{w: w, tty: tty, lines: map[string]string{}, status: map[string]string{}}
}

func (p *imgProgress) update(id, status string, cur, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.lines[id]; !ok {
		p.order = append(p.order, id)
	}
	changed := p.status[id] != status
	p.status[id] = status
	line := id + ": " + status
	if (status == "Downloading" || status == "Extracting" || status == "Pushing") && total > 0 {
		width := 40
		done := int(float64(width) * float64(cur) / float64(total))
		if done > width {
			done = width
		}
		bar := strings.Repeat("=", done)
		if done < width {
			bar += ">" + strings.Repeat(" ", width-done-1)
		}
		line += fmt.Sprintf(" [%s] %s/%s", bar, imgHumanSize(cur), imgHumanSize(total))
	}
	p.lines[id] = line
	if !p.tty {
		if changed {
			fmt.Fprintln(p.w, id+": "+status)
		}
		return
	}
	if !changed && time.Since(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.draw()
}

func (p *imgProgress) draw() {
	p.lastDraw = time.Now()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, id := range p.order {
		b.WriteString("\x1b[2K" + p.lines[id] + "\n")
	}
	p.drawn = len(p.order)
	io.WriteString(p.w, b.String())
}

// finish draws the final state.
func (p *imgProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && len(p.order) > 0 {
		p.draw()
	}
}
