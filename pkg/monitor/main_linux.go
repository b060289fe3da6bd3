package monitor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// Main is the command line of the lean monitor program (cmd/berth-monitor):
//
//	berth-monitor --root R --runroot RR --berth BERTH [--runtime RT] monitor [--prepared] [--wait-attach] [--watch] ID
//
// It keeps one container as `berth monitor` does, linking only the engine
// and the runtime; what needs the image store or the network manager (a
// restart's prepare, a bridge network's teardown, --rm removal without an
// attached client) it asks of BERTH (`berth monitor --do OP ID`). It
// returns the process exit code.
func Main(args []string, stderr io.Writer) int {
	if err := run(args); err != nil {
		fmt.Fprintf(stderr, "berth-monitor: %v\n", err)
		return 1
	}
	return 0
}

func run(args []string) error {
	global := flag.NewFlagSet("berth-monitor", flag.ContinueOnError)
	root := global.String("root", "/var/lib/berth", "berth's state root")
	runroot := global.String("runroot", "/run/berth", "berth's runtime state root")
	berth := global.String("berth", "", "the full berth program, for operations needing the image store or networks")
	rtName := global.String("runtime", "", "the default OCI runtime")
	if err := global.Parse(args[1:]); err != nil {
		return err
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] != "monitor" {
		return errors.New("usage: berth-monitor [global flags] monitor [--prepared] [--wait-attach] [--watch] CONTAINER-ID")
	}
	local := flag.NewFlagSet("monitor", flag.ContinueOnError)
	prepared := local.Bool("prepared", false, "the starter prepared the first run and holds the monitor lock")
	waitAttach := local.Bool("wait-attach", false, "start the container only once a client attaches")
	watch := local.Bool("watch", false, "be the watchdog of the container's monitor (the parent)")
	if err := local.Parse(rest[1:]); err != nil {
		return err
	}
	if local.NArg() != 1 {
		return errors.New("monitor needs exactly one container ID")
	}
	id := local.Arg(0)
	if *berth == "" {
		return errors.New("--berth is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *root, err = filepath.Abs(*root); err != nil {
		return err
	}
	if *runroot, err = filepath.Abs(*runroot); err != nil {
		return err
	}
	global2 := []string{"--root", *root, "--runroot", *runroot}
	eo := engine.Options{
		Root: *root, RunRoot: *runroot, Runtime: *rtName,
		FastPath:       os.Getenv("BERTH_NO_FASTPATH") == "",
		MonitorCommand: append(append([]string{self}, global2...), "--berth", *berth, "--runtime", *rtName, "monitor"),
		Helper:         append(append([]string{*berth}, global2...), "monitor", "--do"),
	}
	eng, err := engine.New(eo)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if *watch {
		pid, err := strconv.Atoi(os.Getenv("BERTH_WATCH_PID"))
		if err != nil {
			return fmt.Errorf("watchdog without BERTH_WATCH_PID: %w", err)
		}
		return eng.Watch(ctx, id, pid)
	}
	mo := Options{WaitAttach: *waitAttach, Prepared: *prepared}
	if id, err = Inherit(eng, id, &mo); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil // started ahead, then not needed
		}
		return err
	}
	return Run(ctx, eng, id, mo)
}
