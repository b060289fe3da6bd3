// Command network-part times the network part of `berth run` in process,
// with pkg/network as the engine drives it: a fresh pinned network
// namespace, Attach to the default network, then Release (or Detach when
// the tree has no Release, or with -detach) and the namespace's unmount.
// It prints the median of each step over -n rounds on fresh state roots,
// whose kernel objects it removes at the end.
//
//	go run ./bench/network-part -n 40
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/netns"
	"github.com/berth/berth/pkg/network"
)

// releaser is pkg/network's Release, absent from older trees.
type releaser interface {
	Release(ctx context.Context, network, containerID string) error
}

func main() {
	n := flag.Int("n", 30, "measured rounds")
	detach := flag.Bool("detach", false, "use Detach (deletes the veth) even where Release exists")
	flag.Parse()
	if err := run(*n, *detach); err != nil {
		fmt.Fprintln(os.Stderr, "network-part:", err)
		os.Exit(1)
	}
}

func run(rounds int, detach bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "berth-netpart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := network.Open(filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err != nil {
		return err
	}
	defer m.Destroy(ctx)
	rel, release := any(m).(releaser)
	release = release && !detach
	var tns, tatt, tdet, tall []time.Duration
	for i := 0; i <= rounds; i++ { // round 0 creates the network: not counted
		ns := filepath.Join(dir, fmt.Sprintf("ns%d", i))
		hosts := filepath.Join(dir, fmt.Sprintf("hosts%d", i))
		if err := os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n"), 0o644); err != nil {
			return err
		}
		id := fmt.Sprintf("netpart%057d", i)
		t0 := time.Now()
		if err := netns.New(ns); err != nil {
			return fmt.Errorf("netns: %w", err)
		}
		t1 := time.Now()
		if _, err := m.Attach(ctx, network.AttachRequest{ContainerID: id, Name: fmt.Sprintf("np%d", i), NetNSPath: ns, HostsPath: hosts}); err != nil {
			return err
		}
		t2 := time.Now()
		if release {
			err = rel.Release(ctx, network.DefaultNetwork, id)
		} else {
			err = m.Detach(ctx, network.DefaultNetwork, id)
		}
		if err != nil {
			return err
		}
		unix.Unmount(ns, unix.MNT_DETACH)
		os.Remove(ns)
		t3 := time.Now()
		if i > 0 {
			tns, tatt, tdet, tall = append(tns, t1.Sub(t0)), append(tatt, t2.Sub(t1)), append(tdet, t3.Sub(t2)), append(tall, t3.Sub(t0))
		}
	}
	how := "detach"
	if release {
		how = "release"
	}
	fmt.Printf("netns %v  attach %v  %s %v  total %v  (medians of %d)\n", med(tns), med(tatt), how, med(tdet), med(tall), rounds)
	return nil
}

func med(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2].Round(10 * time.Microsecond)
}
