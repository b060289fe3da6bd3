// Command alternate times shell commands side by side: after a warm-up it
// runs them in alternating order, round after round, so that machine noise
// falls on all of them alike, then prints each one's median, spread and peak
// RSS and the ratio of every command's median to the last one's (the anchor).
//
//	go run ./bench/alternate -n 20 berth='bin/berth-runtime run ...' runc='runc run ...'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type contender struct {
	name, cmd string
	times     []time.Duration
	maxRSS    int64 // KiB, largest seen
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "alternate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("alternate", flag.ContinueOnError)
	n := fs.Int("n", 20, "measured rounds")
	warmup := fs.Int("warmup", 3, "unmeasured rounds first")
	before := fs.String("before", "", "shell command run before every timed command, untimed (clean-up)")
	title := fs.String("title", "", "heading to print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cs []*contender
	for _, a := range fs.Args() {
		name, cmd, ok := strings.Cut(a, "=")
		if !ok || name == "" || cmd == "" {
			return fmt.Errorf("argument %q: want NAME=COMMAND", a)
		}
		cs = append(cs, &contender{name: name, cmd: cmd})
	}
	if len(cs) < 2 {
		return fmt.Errorf("need at least two NAME=COMMAND contenders, got %d", len(cs))
	}
	for round := 0; round < *warmup+*n; round++ {
		// Alternate who goes first, so neither always runs on a warm or cold cache.
		order := slices.Clone(cs)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, c := range order {
			if *before != "" {
				if out, err := exec.CommandContext(ctx, "sh", "-c", *before).CombinedOutput(); err != nil {
					return fmt.Errorf("before %s: %v: %s", c.name, err, out)
				}
			}
			d, rss, err := timeOnce(ctx, c.cmd)
			if err != nil {
				return fmt.Errorf("%s (round %d): %w", c.name, round, err)
			}
			if round >= *warmup {
				c.times = append(c.times, d)
				c.maxRSS = max(c.maxRSS, rss)
			}
		}
	}
	if *title != "" {
		fmt.Printf("## %s\n", *title)
	}
	fmt.Printf("%-12s %10s %10s %10s %10s %12s\n", "command", "median", "p10", "p90", "mean", "maxrss(KiB)")
	for _, c := range cs {
		slices.Sort(c.times)
		fmt.Printf("%-12s %10s %10s %10s %10s %12d\n", c.name, ms(median(c.times)), ms(pct(c.times, 10)), ms(pct(c.times, 90)), ms(mean(c.times)), c.maxRSS)
	}
	anchor := cs[len(cs)-1]
	for _, c := range cs[:len(cs)-1] {
		fmt.Printf("ratio %s/%s = %.3f (n=%d, medians)\n", c.name, anchor.name, float64(median(c.times))/float64(median(anchor.times)), *n)
	}
	return nil
}

func timeOnce(ctx context.Context, cmdline string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %v: %s", cmdline, err, tail(out.String()))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func tail(s string) string {
	if len(s) > 500 {
		return "..." + s[len(s)-500:]
	}
	return s
}

func median(ts []time.Duration) time.Duration { return pct(ts, 50) }

func pct(ts []time.Duration, p int) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	return ts[(len(ts)-1)*p/100]
}

func mean(ts []time.Duration) time.Duration {
	var sum time.Duration
	for _, t := range ts {
		sum += t
	}
	return sum / time.Duration(max(len(ts), 1))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
